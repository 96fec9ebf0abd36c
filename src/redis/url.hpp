#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <variant>

#include "core/status.hpp"

namespace surge::redis {

// Where a Redis server is: redis://[[user]:password@]host[:port][/db].
struct endpoint {
  std::string host{"127.0.0.1"};
  std::uint16_t port{6379};
  std::uint32_t db{0};
  std::string user;      // empty: the default user
  std::string password;  // empty: no AUTH
  // host:port/db without the password, for messages and logs.
  std::string display() const;
};

// invalid_argument naming what is wrong with the URL.
std::variant<endpoint, error> parse_url(std::string_view url);

}  // namespace surge::redis
