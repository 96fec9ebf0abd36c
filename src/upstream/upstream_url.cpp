#include "upstream/upstream_url.hpp"

#include <charconv>

namespace surge::upstream {

std::variant<http_url, error> parse_http_url(std::string_view url) {
  const auto invalid = [url](std::string why) {
    return make_error(error_code::invalid_argument, "upstream url '" + std::string(url) + "': " + std::move(why));
  };
  constexpr std::string_view scheme = "http://";
  if (!url.starts_with(scheme)) return invalid("must start with http://");
  auto rest = url.substr(scheme.size());
  http_url out;
  const auto slash = rest.find('/');
  const auto authority = rest.substr(0, slash);
  if (slash != std::string_view::npos) out.target.assign(rest.substr(slash));
  if (authority.empty()) return invalid("no host");
  out.host_header.assign(authority);
  std::string_view host = authority;
  if (authority.starts_with('[')) {
    const auto close = authority.find(']');
    if (close == std::string_view::npos) return invalid("unclosed '[' in the host");
    host = authority.substr(1, close - 1);
    const auto after = authority.substr(close + 1);
    if (!after.empty()) {
      if (!after.starts_with(':')) return invalid("expected ':' after the IPv6 address");
      out.port.assign(after.substr(1));
    }
  } else if (const auto colon = authority.rfind(':'); colon != std::string_view::npos) {
    host = authority.substr(0, colon);
    out.port.assign(authority.substr(colon + 1));
  }
  unsigned port = 0;
  const auto [end, ec] = std::from_chars(out.port.data(), out.port.data() + out.port.size(), port);
  if (ec != std::errc{} || end != out.port.data() + out.port.size() || port == 0 || port > 65535) {
    return invalid("port '" + out.port + "' is not a number from 1 to 65535");
  }
  if (host.empty()) return invalid("no host");
  out.host.assign(host);
  return out;
}

}  // namespace surge::upstream
