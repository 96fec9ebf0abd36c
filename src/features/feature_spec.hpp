#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <variant>
#include <vector>

#include "config/model_config.pb.h"
#include "core/status.hpp"

namespace surge::features {

enum class aggregate { count, sum, mean, max, min, distinct_count };

struct window_definition {
  std::string name;
  aggregate kind{aggregate::count};
  // Index into feature_spec::numeric_fields (sum, mean, max, min) or
  // distinct_fields (distinct_count); unused by count.
  std::size_t slot{0};
  std::int64_t tiles{1};  // length_ms / tile_ms
};

// Where each element of the vector comes from.
struct vector_element {
  enum class source { request_input, window, static_attribute } from{source::request_input};
  std::size_t index{0};  // into request_inputs, windows or static_fields
};

// A features model's config, resolved into the indexes the store and the
// request path use.
struct feature_spec {
  std::string model;  // this features model's name
  std::string scoring_model;
  std::string scoring_input;
  std::string entity_input;
  std::vector<std::string> request_inputs;  // this model's inputs other than the entity, config order
  std::vector<std::string> outputs;         // this model's outputs but FEATURES: asked of the scoring model

  std::string stream_key;
  std::string entity_field;
  std::string time_field;
  std::int64_t tile_ms{1000};
  std::int64_t allowed_lateness_ms{0};
  std::vector<std::string> numeric_fields;   // entry fields parsed as numbers
  std::vector<std::string> distinct_fields;  // entry fields whose distinct values are counted
  std::vector<window_definition> windows;
  std::int64_t max_window_tiles{1};
  std::size_t max_entities{1'000'000};

  std::string hash_prefix;
  std::vector<std::string> static_fields;
  std::int64_t static_ttl_ms{60'000};

  std::vector<vector_element> vector;
};

// From a validated config (validate_features.cpp checked it).
feature_spec make_feature_spec(const config::ModelConfig& config);

}  // namespace surge::features
