#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <variant>
#include <vector>

#include "config/model_config.pb.h"
#include "core/data_type.hpp"
#include "core/status.hpp"

namespace surge::score {

// One model input filled from table columns: row r of a batch is the values
// of `columns` in row r, in this order (`--input features=a,b,c`).
struct input_binding {
  std::string input;                 // the model input's name
  data_type type{data_type::invalid};
  std::vector<std::int64_t> dims;    // the input's dims without the batch dim, -1 resolved
  std::vector<std::size_t> columns;  // indexes into the source columns (column_mapping::source_columns)
};

// One output column filled from one element of a model output's row
// (`--output churn_probability=probabilities:1`).
struct output_binding {
  std::string column;
  std::string output;
  data_type type{data_type::invalid};
  std::int64_t width{1};  // elements of the output per row
  std::int64_t index{0};
};

// How table columns become model inputs and model outputs become columns,
// checked against the model's config.
struct column_mapping {
  std::string key;                          // the key column
  std::vector<std::string> source_columns;  // the columns read, key excluded, each once
  std::vector<input_binding> inputs;
  std::vector<output_binding> outputs;
  bool batched{true};  // max_batch_size > 0: rows are stacked on a batch dim
  std::int64_t max_batch_size{0};
};

// Parses `--input INPUT=COL[,COL...]` and `--output COLUMN=OUTPUT[:INDEX]`
// against the model's config: every input of the model mapped once, each
// mapping as wide as the input's dims (one -1 dim takes the column count),
// datatypes surge score can read from text (numbers, BOOL, BYTES), outputs
// that exist with an index inside their row. The error names the flag and
// what is wrong.
std::variant<column_mapping, error> make_column_mapping(const config::ModelConfig& model, const std::string& key,
                                                        const std::vector<std::string>& input_specs,
                                                        const std::vector<std::string>& output_specs);

}  // namespace surge::score
