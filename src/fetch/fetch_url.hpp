#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <variant>

#include "fetch/fetch_error.hpp"

namespace surge::fetch {

// An absolute http or https URL, split into what a GET needs. The fragment is
// dropped (it never reaches the server); user information is refused, so
// "http://trusted@evil/" cannot pass for a trusted host.
struct fetch_url {
  std::string scheme;      // "http" or "https", lower case
  std::string host;        // lower case; an IPv6 literal without its brackets
  std::uint16_t port{0};   // the explicit port, or 80 / 443
  std::string target{"/"};  // path and query, as sent in the request line
  bool host_is_ip{false};  // an IPv4 or IPv6 literal: no DNS, no SNI

  bool https() const { return scheme == "https"; }
  std::string host_header() const;  // host[:port], the port only when not the default
  std::string text() const;         // scheme://host_header target
};

// Errors are invalid_url or unsupported_scheme, naming the URL and the problem.
std::variant<fetch_url, fetch_error> parse_fetch_url(std::string_view url);

// The URL a redirect's Location names, relative to the URL that answered it:
// absolute, scheme-relative ("//host/p"), absolute-path ("/p"), query ("?q")
// or relative ("p").
std::variant<fetch_url, fetch_error> resolve_location(const fetch_url& base, std::string_view location);

}  // namespace surge::fetch
