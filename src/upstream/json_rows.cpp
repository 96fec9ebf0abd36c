#include "upstream/json_rows.hpp"

#include <rapidjson/document.h>
#include <rapidjson/error/en.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <charconv>
#include <cmath>
#include <cstring>

#include "wire/half_float.hpp"
#include "wire/kserve_request.hpp"
#include "wire/kserve_response.hpp"

namespace surge::upstream {

namespace {

using json_writer = rapidjson::Writer<rapidjson::StringBuffer>;

template <typename T>
T load(const std::byte* at) {
  T value;
  std::memcpy(&value, at, sizeof value);
  return value;
}

template <typename T>
void write_number(json_writer& writer, T value) {
  if constexpr (std::is_floating_point_v<T>) {
    if (!std::isfinite(value)) {
      // As Python's json module writes them (and reads them back).
      const char* text = std::isnan(value) ? "NaN" : (value < 0 ? "-Infinity" : "Infinity");
      writer.RawValue(text, std::strlen(text), rapidjson::kNumberType);
      return;
    }
  }
  char text[32];
  const auto end = std::to_chars(text, text + sizeof text, value).ptr;
  writer.RawValue(text, static_cast<std::size_t>(end - text), rapidjson::kNumberType);
}

// Writes element `index` of `t`; `bytes_at` walks BYTES elements in order.
void write_element(json_writer& writer, const tensor& t, std::size_t index, std::size_t& bytes_at) {
  const auto* base = t.data.data();
  switch (t.type) {
    case data_type::bool_:
      writer.Bool(load<std::uint8_t>(base + index) != 0);
      return;
    case data_type::uint8:
      return write_number(writer, load<std::uint8_t>(base + index));
    case data_type::uint16:
      return write_number(writer, load<std::uint16_t>(base + 2 * index));
    case data_type::uint32:
      return write_number(writer, load<std::uint32_t>(base + 4 * index));
    case data_type::uint64:
      return write_number(writer, load<std::uint64_t>(base + 8 * index));
    case data_type::int8:
      return write_number(writer, load<std::int8_t>(base + index));
    case data_type::int16:
      return write_number(writer, load<std::int16_t>(base + 2 * index));
    case data_type::int32:
      return write_number(writer, load<std::int32_t>(base + 4 * index));
    case data_type::int64:
      return write_number(writer, load<std::int64_t>(base + 8 * index));
    case data_type::fp16:
      return write_number(writer, wire::fp16_to_double(load<std::uint16_t>(base + 2 * index)));
    case data_type::bf16:
      return write_number(writer, wire::bf16_to_double(load<std::uint16_t>(base + 2 * index)));
    case data_type::fp32:
      return write_number(writer, load<float>(base + 4 * index));
    case data_type::fp64:
      return write_number(writer, load<double>(base + 8 * index));
    case data_type::bytes: {
      std::uint32_t length = 0;
      if (bytes_at + 4 <= t.data.size()) std::memcpy(&length, base + bytes_at, 4);
      bytes_at += 4;
      const auto available = t.data.size() >= bytes_at ? t.data.size() - bytes_at : 0;
      length = static_cast<std::uint32_t>(std::min<std::size_t>(length, available));
      writer.String(reinterpret_cast<const char*>(base + bytes_at), length);
      bytes_at += length;
      return;
    }
    case data_type::invalid:
      break;
  }
  writer.Null();
}

// Nested arrays for dimensions [dim, shape.size()), row-major.
void write_nested(json_writer& writer, const tensor& t, std::size_t dim, std::size_t& index, std::size_t& bytes_at) {
  if (dim == t.shape.size()) {
    write_element(writer, t, index++, bytes_at);
    return;
  }
  writer.StartArray();
  for (std::int64_t i = 0; i < t.shape[dim]; ++i) write_nested(writer, t, dim + 1, index, bytes_at);
  writer.EndArray();
}

error invalid(std::string message) { return make_error(error_code::invalid_argument, std::move(message)); }

}  // namespace

std::string encode_json_rows(const tensor& input) {
  rapidjson::StringBuffer buffer;
  json_writer writer(buffer);
  writer.StartObject();
  writer.Key("inputs");
  std::size_t index = 0;
  std::size_t bytes_at = 0;
  if (input.shape.empty()) {
    writer.StartArray();
    write_element(writer, input, index, bytes_at);
    writer.EndArray();
  } else {
    write_nested(writer, input, 0, index, bytes_at);
  }
  writer.EndObject();
  return std::string(buffer.GetString(), buffer.GetSize());
}

std::variant<tensor, error> decode_json_rows(std::string_view body, const std::string& name, data_type type,
                                             std::int64_t expected_rows) {
  rapidjson::Document document;
  document.Parse<rapidjson::kParseNanAndInfFlag | rapidjson::kParseFullPrecisionFlag>(body.data(), body.size());
  if (document.HasParseError()) {
    return invalid("malformed JSON at offset " + std::to_string(document.GetErrorOffset()) + ": " +
                   rapidjson::GetParseError_En(document.GetParseError()));
  }
  if (!document.IsObject() || !document.HasMember("outputs") || !document["outputs"].IsArray()) {
    return invalid("the answer must be an object with an \"outputs\" array");
  }
  auto& rows = document["outputs"];
  if (static_cast<std::int64_t>(rows.Size()) != expected_rows) {
    return invalid("\"outputs\" has " + std::to_string(rows.Size()) + " rows for " + std::to_string(expected_rows) +
                   " input rows");
  }
  // The shape follows the first row's nesting; the codec then checks that
  // every row holds exactly that many elements.
  std::vector<std::int64_t> shape{expected_rows};
  for (const rapidjson::Value* v = rows.Size() > 0 ? &rows[0] : nullptr; v && v->IsArray();
       v = v->Size() > 0 ? &(*v)[0] : nullptr) {
    shape.push_back(v->Size());
  }
  // Re-stated as a KServe v2 output, so one decoder checks and converts
  // every element for every datatype.
  rapidjson::Document wrapper(rapidjson::kObjectType);
  auto& allocator = wrapper.GetAllocator();
  rapidjson::Value output(rapidjson::kObjectType);
  output.AddMember("name", rapidjson::Value(name.c_str(), allocator), allocator);
  const auto type_name = kserve_name(type);
  rapidjson::Value datatype(type_name.data(), static_cast<rapidjson::SizeType>(type_name.size()), allocator);
  output.AddMember("datatype", datatype, allocator);
  rapidjson::Value dims(rapidjson::kArrayType);
  for (const auto d : shape) dims.PushBack(d, allocator);
  output.AddMember("shape", dims, allocator);
  output.AddMember("data", rapidjson::Value(rows, allocator), allocator);
  rapidjson::Value outputs(rapidjson::kArrayType);
  outputs.PushBack(output, allocator);
  wrapper.AddMember("outputs", outputs, allocator);
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer, rapidjson::UTF8<>, rapidjson::UTF8<>, rapidjson::CrtAllocator,
                    rapidjson::kWriteNanAndInfFlag>
      writer(buffer);
  wrapper.Accept(writer);
  auto decoded = wire::decode_infer_response(
      std::make_shared<const std::string>(buffer.GetString(), buffer.GetSize()), std::nullopt);
  if (auto* failure = std::get_if<error>(&decoded)) return *failure;
  auto& response = std::get<wire::decoded_infer_response>(decoded);
  return std::move(response.outputs.front());
}

}  // namespace surge::upstream
