#pragma once

// The upstream JSON protocol (docs/configuration.md, "upstream"): a batch
// travels as {"inputs": [row, row, ...]} and comes back as
// {"outputs": [row, row, ...]}, one row per input row, each row nested
// arrays of the tensor's non-batch shape. For models with one input and one
// output.
#include <cstdint>
#include <string>
#include <string_view>
#include <variant>

#include "core/status.hpp"
#include "core/tensor.hpp"

namespace surge::upstream {

// {"inputs": [...]} for a batched tensor (dim 0: rows).
std::string encode_json_rows(const tensor& input);

// The "outputs" rows of `body` as one tensor named `name` of `type`, with
// shape [rows, ...] taken from the nesting. invalid_argument naming the
// problem when the body does not have that form or has another row count.
std::variant<tensor, error> decode_json_rows(std::string_view body, const std::string& name, data_type type,
                                             std::int64_t expected_rows);

}  // namespace surge::upstream
