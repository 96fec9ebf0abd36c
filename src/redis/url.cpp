#include "redis/url.hpp"

#include <charconv>

namespace surge::redis {

namespace {

error invalid(std::string_view url, std::string why) {
  return make_error(error_code::invalid_argument, "redis URL '" + std::string(url) + "': " + std::move(why));
}

template <typename Number>
bool parse_number(std::string_view text, Number& out) {
  if (text.empty()) return false;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc{} && end == text.data() + text.size();
}

}  // namespace

std::string endpoint::display() const {
  const bool ipv6 = host.find(':') != std::string::npos;
  std::string out = ipv6 ? "[" + host + "]" : host;
  out += ":" + std::to_string(port);
  if (db != 0) out += "/" + std::to_string(db);
  return out;
}

std::variant<endpoint, error> parse_url(std::string_view url) {
  constexpr std::string_view scheme = "redis://";
  if (!url.starts_with(scheme)) return invalid(url, "must start with redis://");
  auto rest = url.substr(scheme.size());
  endpoint out;

  if (const auto at = rest.rfind('@'); at != std::string_view::npos) {
    const auto credentials = rest.substr(0, at);
    rest.remove_prefix(at + 1);
    if (const auto colon = credentials.find(':'); colon != std::string_view::npos) {
      out.user.assign(credentials.substr(0, colon));
      out.password.assign(credentials.substr(colon + 1));
    } else {
      out.password.assign(credentials);
    }
  }

  std::string_view authority = rest;
  std::string_view path;
  if (const auto slash = rest.find('/'); slash != std::string_view::npos) {
    authority = rest.substr(0, slash);
    path = rest.substr(slash + 1);
  }

  std::string_view host = authority;
  std::string_view port;
  if (authority.starts_with('[')) {
    const auto close = authority.find(']');
    if (close == std::string_view::npos) return invalid(url, "unclosed '[' in the host");
    host = authority.substr(1, close - 1);
    const auto after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return invalid(url, "expected ':' after the IPv6 address");
      port = after.substr(1);
      if (port.empty()) return invalid(url, "empty port");
    }
  } else if (const auto colon = authority.rfind(':'); colon != std::string_view::npos) {
    host = authority.substr(0, colon);
    port = authority.substr(colon + 1);
    if (port.empty()) return invalid(url, "empty port");
  }
  if (host.empty()) return invalid(url, "no host");
  out.host.assign(host);
  if (!port.empty()) {
    unsigned value = 0;
    if (!parse_number(port, value) || value == 0 || value > 65535) {
      return invalid(url, "port '" + std::string(port) + "' is not a number from 1 to 65535");
    }
    out.port = static_cast<std::uint16_t>(value);
  }
  if (!path.empty()) {
    if (!parse_number(path, out.db)) return invalid(url, "database '" + std::string(path) + "' is not a number");
  }
  return out;
}

}  // namespace surge::redis
