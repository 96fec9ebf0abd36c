#include "redis/command.hpp"

#include <charconv>

namespace surge::redis {

namespace {

template <typename Number>
void append_number(std::string& out, Number value) {
  char text[24];
  const auto end = std::to_chars(text, text + sizeof text, value).ptr;
  out.append(text, end);
}

}  // namespace

command& command::arg(std::string_view argument) {
  if (count_ == 0) name_.assign(argument);
  arguments_ += '$';
  append_number(arguments_, argument.size());
  arguments_ += "\r\n";
  arguments_.append(argument);
  arguments_ += "\r\n";
  ++count_;
  return *this;
}

command& command::arg(std::int64_t number) {
  char text[24];
  const auto end = std::to_chars(text, text + sizeof text, number).ptr;
  return arg(std::string_view(text, static_cast<std::size_t>(end - text)));
}

command& command::arg(std::uint64_t number) {
  char text[24];
  const auto end = std::to_chars(text, text + sizeof text, number).ptr;
  return arg(std::string_view(text, static_cast<std::size_t>(end - text)));
}

void command::encode_to(std::string& out) const {
  out += '*';
  append_number(out, count_);
  out += "\r\n";
  out += arguments_;
}

std::string command::encoded() const {
  std::string out;
  out.reserve(arguments_.size() + 16);
  encode_to(out);
  return out;
}

}  // namespace surge::redis
