#include "redis/reply.hpp"

#include <charconv>

namespace surge::redis {

reply reply::integer(std::int64_t value) {
  reply r;
  r.kind_ = kind::integer;
  r.integer_ = value;
  return r;
}

reply reply::array(std::vector<reply> elements) {
  reply r;
  r.kind_ = kind::array;
  r.elements_ = std::move(elements);
  return r;
}

reply reply::transport_error(std::string message) {
  reply r(kind::error, std::move(message));
  r.transport_ = true;
  return r;
}

std::optional<std::int64_t> reply::as_integer() const {
  if (kind_ == kind::integer) return integer_;
  if (kind_ != kind::string && kind_ != kind::status) return std::nullopt;
  std::int64_t value = 0;
  const auto [end, ec] = std::from_chars(text_.data(), text_.data() + text_.size(), value);
  if (ec != std::errc{} || end != text_.data() + text_.size()) return std::nullopt;
  return value;
}

std::string reply::describe() const {
  switch (kind_) {
    case kind::nil:
      return "nil";
    case kind::string:
      return "\"" + text_ + "\"";
    case kind::status:
      return text_;
    case kind::integer:
      return std::to_string(integer_);
    case kind::error:
      return "(error) " + text_;
    case kind::array: {
      std::string out = "[";
      for (std::size_t i = 0; i < elements_.size(); ++i) {
        if (i) out += ", ";
        out += elements_[i].describe();
      }
      return out + "]";
    }
  }
  return {};
}

}  // namespace surge::redis
