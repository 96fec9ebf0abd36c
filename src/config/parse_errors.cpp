#include "config/parse_errors.hpp"

#include <algorithm>
#include <optional>
#include <utility>

namespace surge::config_parsing {
namespace {

bool is_identifier_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

// Byte offset of protobuf's (line, column); the tokenizer counts a tab as a
// jump to the next multiple of 8, so columns are not byte counts.
std::size_t offset_of(std::string_view text, int line, int column) {
  std::size_t offset = 0;
  for (int l = 0; l < line && offset < text.size(); ++l) {
    const auto newline = text.find('\n', offset);
    if (newline == std::string_view::npos) return text.size();
    offset = newline + 1;
  }
  for (int c = 0; c < column && offset < text.size() && text[offset] != '\n'; ++offset) {
    c = text[offset] == '\t' ? c + 8 - c % 8 : c + 1;
  }
  return offset;
}

// 1-based line and byte column, the way editors and compilers print them.
std::string position_of(std::string_view text, std::size_t offset) {
  offset = std::min(offset, text.size());
  const auto before = text.substr(0, offset);
  const auto line = std::count(before.begin(), before.end(), '\n') + 1;
  const auto line_start = before.rfind('\n');
  const auto column = line_start == std::string_view::npos ? offset + 1 : offset - line_start;
  return std::to_string(line) + ":" + std::to_string(column);
}

// Protobuf reports an unknown field at the token after its name (the ':' or
// '{'), so find the name itself: the last whole-word occurrence before that.
std::size_t find_name_before(std::string_view text, std::string_view name, std::size_t limit) {
  auto end = std::min(limit, text.size());
  while (end >= name.size()) {
    const auto at = text.substr(0, end).rfind(name);
    if (at == std::string_view::npos) break;
    const bool starts_word = at == 0 || !is_identifier_char(text[at - 1]);
    const bool ends_word = at + name.size() >= text.size() || !is_identifier_char(text[at + name.size()]);
    if (starts_word && ends_word) return at;
    if (at == 0) break;
    end = at + name.size() - 1;
  }
  return std::string_view::npos;
}

// For errors about a value ("Expected integer, got: -"), the field whose value
// it is: the identifier before the nearest preceding ':'. Empty if the text
// there does not look like "name: value".
std::string_view field_before(std::string_view text, std::size_t offset) {
  auto at = std::min(offset, text.size());
  while (at > 0 && is_space(text[at - 1])) --at;
  if (at == 0 || text[at - 1] != ':') return {};
  --at;
  while (at > 0 && is_space(text[at - 1])) --at;
  const auto end = at;
  while (at > 0 && is_identifier_char(text[at - 1])) --at;
  return text.substr(at, end - at);
}

// Rewrites `Message type "surge.config.ModelInput" has no field named "format".`
// into `unsupported field "format" in ModelInput`; nullopt for other messages.
std::optional<std::pair<std::string, std::string>> unknown_field(std::string_view message) {
  constexpr std::string_view head = "Message type \"";
  constexpr std::string_view middle = "\" has no field named \"";
  if (!message.starts_with(head)) return std::nullopt;
  const auto type_end = message.find(middle, head.size());
  if (type_end == std::string_view::npos) return std::nullopt;
  const auto field_begin = type_end + middle.size();
  const auto field_end = message.find('"', field_begin);
  if (field_end == std::string_view::npos) return std::nullopt;
  auto type = message.substr(head.size(), type_end - head.size());
  if (const auto dot = type.rfind('.'); dot != std::string_view::npos) type.remove_prefix(dot + 1);
  return std::pair{std::string(type), std::string(message.substr(field_begin, field_end - field_begin))};
}

// The n-th (0-based) double-quoted string in a protobuf error message.
std::optional<std::string_view> nth_quoted(std::string_view message, int n) {
  std::size_t at = 0;
  for (int i = 0;; ++i) {
    const auto open = message.find('"', at);
    if (open == std::string_view::npos) return std::nullopt;
    const auto close = message.find('"', open + 1);
    if (close == std::string_view::npos) return std::nullopt;
    if (i == n) return message.substr(open + 1, close - open - 1);
    at = close + 1;
  }
}

// Protobuf reports these errors at the token after the one at fault; the
// message quotes the culprit, so it can be found in the text instead.
std::optional<std::string_view> token_at_fault(std::string_view message) {
  struct pattern {
    std::string_view prefix;
    int quoted_index;
  };
  constexpr pattern patterns[] = {
      {"Unknown enumeration value of \"", 0},
      {"Non-repeated field \"", 0},
      {"Invalid value for boolean field \"", 1},
  };
  for (const auto& p : patterns) {
    if (message.starts_with(p.prefix)) return nth_quoted(message, p.quoted_index);
  }
  return std::nullopt;
}

}  // namespace

std::string describe_parse_problem(std::string_view text, std::string_view source_name, const parse_problem& problem) {
  auto offset = offset_of(text, problem.line, problem.column);
  std::string out(source_name);
  if (const auto field = unknown_field(problem.message)) {
    const auto& [type, name] = *field;
    if (const auto name_at = find_name_before(text, name, offset); name_at != std::string_view::npos) offset = name_at;
    out += ":" + position_of(text, offset) + ": unsupported field \"" + name + "\"";
    if (type != "ModelConfig") out += " in " + type;
    return out;
  }
  if (const auto token = token_at_fault(problem.message); token && !token->empty()) {
    if (const auto token_at = find_name_before(text, *token, offset); token_at != std::string_view::npos) {
      offset = token_at;
    }
  }
  out += ":" + position_of(text, offset) + ": " + problem.message;
  // Protobuf names the field in most messages but not in value errors such as
  // "Integer out of range (99999999999)".
  if (problem.message.find("field") == std::string::npos) {
    if (const auto field = field_before(text, offset); !field.empty()) {
      out += " (field \"" + std::string(field) + "\")";
    }
  }
  return out;
}

}  // namespace surge::config_parsing
