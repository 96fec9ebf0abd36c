#pragma once

// What every KServe JSON reader and writer here shares: how bodies are
// parsed, how values are named in messages, and the writer type.

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <cstddef>
#include <string>
#include <string_view>

#include "core/status.hpp"

namespace surge::wire {

using json_value = rapidjson::Value;
using json_writer = rapidjson::Writer<rapidjson::StringBuffer>;

// Iterative: a body of nested brackets cannot exhaust the stack. Full
// precision: FP64 values read back bit-exact. NaN and Infinity: Python's
// json module (and so tritonclient) writes them for non-finite floats.
constexpr unsigned parse_flags =
    rapidjson::kParseIterativeFlag | rapidjson::kParseFullPrecisionFlag | rapidjson::kParseNanAndInfFlag;

// "data" nests at most one array per dimension in practice; the limit keeps
// the recursive walks over it bounded.
constexpr int max_data_depth = 32;

// Room for any number the writers format; the longest, a double in
// scientific form such as -2.2250738585072014e-308, takes 24 characters.
constexpr std::size_t max_number_chars = 32;

// invalid_argument with `message`: every decoding failure is the client's.
error invalid(std::string message);

// "a string", "an array", ...: how messages name what was found instead.
std::string json_type_name(const json_value& value);
// Shortest text that reads back as the same double.
std::string shortest_text(double value);
// A JSON number as the client wrote it (integers exactly).
std::string number_text(const json_value& value);
// nullptr when `object` has no member `key`.
const json_value* find_member(const json_value& object, const char* key);
std::string_view string_of(const json_value& value);

void write_string(json_writer& writer, std::string_view text);

}  // namespace surge::wire
