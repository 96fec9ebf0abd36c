#pragma once

#include <string>
#include <string_view>
#include <variant>

#include "core/status.hpp"

namespace surge::upstream {

// http://host[:port]/path — the upstream section's url.
struct http_url {
  std::string host;
  std::string port{"80"};
  std::string target{"/"};  // path and query
  std::string host_header;  // host[:port] as the Host header wants it
};

std::variant<http_url, error> parse_http_url(std::string_view url);

}  // namespace surge::upstream
