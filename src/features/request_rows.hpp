#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "core/inference_request.hpp"
#include "core/status.hpp"
#include "features/feature_spec.hpp"

namespace surge::features {

// A features request taken apart: each row's entity and request fields.
struct request_rows {
  std::int64_t rows{0};
  std::vector<std::string> entities;
  std::vector<std::vector<double>> fields;  // [request input][row]
  std::optional<std::int64_t> event_time_ms;  // the request's `event_time_ms` parameter
  bool return_features{false};               // its `return_features` parameter
};

// From a request model_version already checked against the features
// model's config (names, datatypes, shapes); the error names a parameter
// that is not what it should be.
std::variant<request_rows, error> read_request_rows(const inference_request& request, const feature_spec& spec);

// The features of every row, in vector order, as the scoring model's input.
tensor assemble_vector(const request_rows& rows, const feature_spec& spec,
                       const std::vector<std::vector<float>>& windows,
                       const std::vector<std::vector<double>>& attributes, bool batched);

}  // namespace surge::features
