#include "wire/json_tensor_writer.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstring>

#include "wire/half_float.hpp"
#include "wire/json_text.hpp"
#include "wire/tensor_checks.hpp"

namespace surge::wire {

namespace {

// ---- tensor bytes to JSON "data" ----

template <typename T>
T load(const std::byte* in) {
  T value;
  std::memcpy(&value, in, sizeof value);
  return value;
}

char* write_literal(char* out, std::string_view text) {
  std::memcpy(out, text.data(), text.size());
  return out + text.size();
}

// As RapidJSON (kWriteNanAndInfFlag) and Python's json module write them.
char* write_non_finite(char* out, double value) {
  if (std::isnan(value)) return write_literal(out, "NaN");
  return write_literal(out, value < 0 ? "-Infinity" : "Infinity");
}

// JSON does not tell 1 from 1.0, but people and some readers do: keep floats
// looking like floats.
char* finish_float(char* begin, char* end) {
  for (const char* c = begin; c != end; ++c) {
    if (*c == '.' || *c == 'e') return end;
  }
  return write_literal(end, ".0");
}

// Shortest text that reads back as the same value at the tensor's own
// precision: an FP32 0.1 is written 0.1, not 0.10000000149011612.
template <typename T>
char* write_float(char* out, T value) {
  if (!std::isfinite(value)) return write_non_finite(out, value);
  return finish_float(out, std::to_chars(out, out + max_number_chars, value).ptr);
}

// The same for 16-bit floats, which the standard library cannot format: find
// the fewest significant digits that read back as the same bits.
template <std::uint16_t (*narrow)(double), double (*widen)(std::uint16_t), int max_digits>
char* write_half(char* out, std::uint16_t bits) {
  const double value = widen(bits);
  if (!std::isfinite(value)) return write_non_finite(out, value);
  double shortest = value;
  char digits[max_number_chars];
  for (int precision = 0; precision < max_digits; ++precision) {
    const auto printed = std::to_chars(digits, digits + sizeof digits, value, std::chars_format::scientific, precision);
    double read_back = 0;
    std::from_chars(digits, printed.ptr, read_back);
    if (narrow(read_back) == bits) {
      shortest = read_back;
      break;
    }
  }
  return write_float(out, shortest);
}

// Writes the elements and the closing ']' of an array whose '[' the writer
// has written. Room is reserved per chunk for the longest element and the
// unused part handed back, so a large tensor costs one pass and no copies.
template <typename Format>
void append_array_tail(rapidjson::StringBuffer& out, std::size_t count, Format format) {
  constexpr std::size_t chunk = 1024;
  for (std::size_t i = 0; i < count;) {
    const std::size_t chunk_end = std::min(count, i + chunk);
    const std::size_t room = (chunk_end - i) * (max_number_chars + 1);
    char* const begin = out.Push(room);
    char* cursor = begin;
    for (; i < chunk_end; ++i) {
      if (i != 0) *cursor++ = ',';
      cursor = format(cursor, i);
    }
    out.Pop(room - static_cast<std::size_t>(cursor - begin));
  }
  out.Put(']');
}

template <typename T, typename Format>
void append_elements(rapidjson::StringBuffer& out, std::span<const std::byte> data, Format format) {
  const std::byte* base = data.data();
  append_array_tail(out, data.size() / sizeof(T), [base, &format](char* cursor, std::size_t i) {
    return format(cursor, load<T>(base + i * sizeof(T)));
  });
}

template <typename T>
void append_integers(rapidjson::StringBuffer& out, std::span<const std::byte> data) {
  append_elements<T>(out, data,
                     [](char* cursor, T value) { return std::to_chars(cursor, cursor + max_number_chars, value).ptr; });
}


}  // namespace

void append_numbers_tail(rapidjson::StringBuffer& out, const tensor& t) {
  switch (t.type) {
    case data_type::bool_:
      return append_elements<std::uint8_t>(out, t.data, [](char* cursor, std::uint8_t value) {
        return write_literal(cursor, value != 0 ? "true" : "false");
      });
    case data_type::uint8:
      return append_integers<std::uint8_t>(out, t.data);
    case data_type::uint16:
      return append_integers<std::uint16_t>(out, t.data);
    case data_type::uint32:
      return append_integers<std::uint32_t>(out, t.data);
    case data_type::uint64:
      return append_integers<std::uint64_t>(out, t.data);
    case data_type::int8:
      return append_integers<std::int8_t>(out, t.data);
    case data_type::int16:
      return append_integers<std::int16_t>(out, t.data);
    case data_type::int32:
      return append_integers<std::int32_t>(out, t.data);
    case data_type::int64:
      return append_integers<std::int64_t>(out, t.data);
    case data_type::fp16:
      return append_elements<std::uint16_t>(out, t.data, write_half<fp16_from_double, fp16_to_double, 5>);
    case data_type::bf16:
      return append_elements<std::uint16_t>(out, t.data, write_half<bf16_from_double, bf16_to_double, 4>);
    case data_type::fp32:
      return append_elements<float>(out, t.data, write_float<float>);
    case data_type::fp64:
      return append_elements<double>(out, t.data, write_float<double>);
    case data_type::bytes:
    case data_type::invalid:
      break;
  }
  out.Put(']');
}

std::size_t json_chars_per_element(data_type type) {
  switch (type) {
    case data_type::bool_:
      return 6;
    case data_type::uint8:
    case data_type::int8:
      return 4;
    case data_type::uint16:
    case data_type::int16:
      return 6;
    case data_type::uint32:
    case data_type::int32:
    case data_type::fp16:
    case data_type::bf16:
      return 8;
    case data_type::uint64:
    case data_type::int64:
    case data_type::fp32:
      return 12;
    case data_type::fp64:
      return 20;
    case data_type::bytes:
    case data_type::invalid:
      break;
  }
  return 4;
}

}  // namespace surge::wire
