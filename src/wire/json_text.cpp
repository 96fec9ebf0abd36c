#include "wire/json_text.hpp"

#include <charconv>

namespace surge::wire {

error invalid(std::string message) { return make_error(error_code::invalid_argument, std::move(message)); }

std::string json_type_name(const json_value& value) {
  switch (value.GetType()) {
    case rapidjson::kNullType:
      return "null";
    case rapidjson::kFalseType:
    case rapidjson::kTrueType:
      return "a boolean";
    case rapidjson::kObjectType:
      return "an object";
    case rapidjson::kArrayType:
      return "an array";
    case rapidjson::kStringType:
      return "a string";
    case rapidjson::kNumberType:
      return "a number";
  }
  return "a value";
}

std::string shortest_text(double value) {
  char text[max_number_chars];
  const auto result = std::to_chars(text, text + sizeof text, value);
  return std::string(text, result.ptr);
}

std::string number_text(const json_value& value) {
  if (value.IsInt64()) return std::to_string(value.GetInt64());
  if (value.IsUint64()) return std::to_string(value.GetUint64());
  return shortest_text(value.GetDouble());
}

const json_value* find_member(const json_value& object, const char* key) {
  const auto it = object.FindMember(key);
  return it == object.MemberEnd() ? nullptr : &it->value;
}

std::string_view string_of(const json_value& value) { return {value.GetString(), value.GetStringLength()}; }

void write_string(json_writer& writer, std::string_view text) {
  writer.String(text.data(), static_cast<rapidjson::SizeType>(text.size()));
}

}  // namespace surge::wire
