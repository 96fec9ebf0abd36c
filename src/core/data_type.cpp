#include "core/data_type.hpp"

#include <array>

namespace surge {
namespace {

struct type_names {
  data_type type;
  std::string_view kserve;
  std::string_view config;
  std::size_t size;
};

constexpr std::array<type_names, 14> table{{
    {data_type::bool_, "BOOL", "TYPE_BOOL", 1},
    {data_type::uint8, "UINT8", "TYPE_UINT8", 1},
    {data_type::uint16, "UINT16", "TYPE_UINT16", 2},
    {data_type::uint32, "UINT32", "TYPE_UINT32", 4},
    {data_type::uint64, "UINT64", "TYPE_UINT64", 8},
    {data_type::int8, "INT8", "TYPE_INT8", 1},
    {data_type::int16, "INT16", "TYPE_INT16", 2},
    {data_type::int32, "INT32", "TYPE_INT32", 4},
    {data_type::int64, "INT64", "TYPE_INT64", 8},
    {data_type::fp16, "FP16", "TYPE_FP16", 2},
    {data_type::fp32, "FP32", "TYPE_FP32", 4},
    {data_type::fp64, "FP64", "TYPE_FP64", 8},
    {data_type::bytes, "BYTES", "TYPE_STRING", 0},
    {data_type::bf16, "BF16", "TYPE_BF16", 2},
}};

const type_names* find(data_type type) {
  for (const auto& row : table) {
    if (row.type == type) return &row;
  }
  return nullptr;
}

}  // namespace

std::optional<data_type> parse_kserve_data_type(std::string_view name) {
  for (const auto& row : table) {
    if (row.kserve == name) return row.type;
  }
  return std::nullopt;
}

std::string_view kserve_name(data_type type) {
  const auto* row = find(type);
  return row ? row->kserve : std::string_view{"INVALID"};
}

std::optional<data_type> parse_config_data_type(std::string_view name) {
  for (const auto& row : table) {
    if (row.config == name) return row.type;
  }
  return std::nullopt;
}

std::string_view config_name(data_type type) {
  const auto* row = find(type);
  return row ? row->config : std::string_view{"TYPE_INVALID"};
}

std::size_t element_size(data_type type) {
  const auto* row = find(type);
  return row ? row->size : 0;
}

}  // namespace surge
