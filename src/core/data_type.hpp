#pragma once

#include <cstddef>
#include <optional>
#include <string_view>

namespace surge {

// Values equal surge_data_type in include/surge/backend.h.
enum class data_type : int {
  invalid = 0,
  bool_ = 1,
  uint8 = 2,
  uint16 = 3,
  uint32 = 4,
  uint64 = 5,
  int8 = 6,
  int16 = 7,
  int32 = 8,
  int64 = 9,
  fp16 = 10,
  fp32 = 11,
  fp64 = 12,
  bytes = 13,
  bf16 = 14,
};

// KServe v2 names: "BOOL", "UINT8", ..., "FP32", "BYTES", "BF16".
std::optional<data_type> parse_kserve_data_type(std::string_view name);
std::string_view kserve_name(data_type type);

// Triton config.pbtxt names: "TYPE_FP32", "TYPE_STRING", ...
std::optional<data_type> parse_config_data_type(std::string_view name);
std::string_view config_name(data_type type);

// Bytes per element; 0 for BYTES (variable length) and invalid.
std::size_t element_size(data_type type);

}  // namespace surge
