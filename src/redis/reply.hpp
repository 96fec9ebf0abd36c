#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace surge::redis {

// One Redis reply (RESP2). Errors are values: a server error ("-ERR ...") and
// a transport failure (the connection was lost or never made) are both
// replies of kind error, told apart by transport_failure().
class reply {
 public:
  enum class kind { nil, string, status, integer, array, error };

  reply() = default;  // nil

  static reply nil() { return reply(); }
  static reply string(std::string text) { return reply(kind::string, std::move(text)); }
  static reply status(std::string text) { return reply(kind::status, std::move(text)); }
  static reply integer(std::int64_t value);
  static reply array(std::vector<reply> elements);
  static reply server_error(std::string message) { return reply(kind::error, std::move(message)); }
  static reply transport_error(std::string message);

  kind type() const { return kind_; }
  bool is_nil() const { return kind_ == kind::nil; }
  bool is_string() const { return kind_ == kind::string; }
  bool is_status() const { return kind_ == kind::status; }
  bool is_integer() const { return kind_ == kind::integer; }
  bool is_array() const { return kind_ == kind::array; }
  bool is_error() const { return kind_ == kind::error; }
  // The command may not have reached Redis, or its answer was lost with the
  // connection: the caller cannot know whether it ran.
  bool transport_failure() const { return kind_ == kind::error && transport_; }

  // The bytes of a string, status or error; empty otherwise.
  std::string_view text() const { return text_; }
  std::string take_text() { return std::move(text_); }
  std::int64_t integer() const { return integer_; }
  const std::vector<reply>& elements() const { return elements_; }
  std::vector<reply>& elements() { return elements_; }
  std::size_t size() const { return elements_.size(); }
  const reply& operator[](std::size_t i) const { return elements_[i]; }

  // An integer reply, or a string that holds a decimal integer (what
  // XPENDING and XINFO return for some numbers); nullopt otherwise.
  std::optional<std::int64_t> as_integer() const;

  // For messages: "nil", "\"text\"", "(error) ...", "[a, b]".
  std::string describe() const;

 private:
  reply(kind k, std::string text) : kind_(k), text_(std::move(text)) {}

  kind kind_{kind::nil};
  bool transport_{false};
  std::string text_;
  std::int64_t integer_{0};
  std::vector<reply> elements_;
};

}  // namespace surge::redis
