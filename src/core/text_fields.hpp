#pragma once

#include <charconv>
#include <string_view>
#include <system_error>

namespace surge {

// `text` without leading and trailing spaces and tabs.
inline std::string_view trim_blanks(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

// A number written as text in a field (a CSV cell, a database value, a
// stream entry): blanks around it and a leading '+' allowed, nothing else
// after it. False when the whole field is not one number of type T.
template <typename T>
bool parse_field_number(std::string_view text, T& value) {
  text = trim_blanks(text);
  if (!text.empty() && text.front() == '+') text.remove_prefix(1);
  if (text.empty()) return false;
  const auto parsed = std::from_chars(text.data(), text.data() + text.size(), value);
  return parsed.ec == std::errc{} && parsed.ptr == text.data() + text.size();
}

}  // namespace surge
