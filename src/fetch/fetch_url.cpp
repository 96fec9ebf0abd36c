#include "fetch/fetch_url.hpp"

#include <boost/asio/ip/address.hpp>
#include <charconv>

namespace surge::fetch {

namespace {

constexpr std::size_t max_url_length = 8192;

char lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

std::string lowered(std::string_view text) {
  std::string out(text);
  for (auto& c : out) c = lower(c);
  return out;
}

bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool is_digit(char c) { return c >= '0' && c <= '9'; }

std::uint16_t default_port(std::string_view scheme) { return scheme == "https" ? 443 : 80; }

}  // namespace

std::string fetch_url::host_header() const {
  std::string out = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  if (port != default_port(scheme)) out += ":" + std::to_string(port);
  return out;
}

std::string fetch_url::text() const { return scheme + "://" + host_header() + target; }

std::variant<fetch_url, fetch_error> parse_fetch_url(std::string_view url) {
  const auto invalid = [url](std::string why) {
    const auto shown = url.size() > 200 ? std::string(url.substr(0, 200)) + "..." : std::string(url);
    return fetch_error{fetch_errc::invalid_url, "URL '" + shown + "': " + std::move(why)};
  };
  if (url.empty()) return invalid("empty");
  if (url.size() > max_url_length) return invalid("longer than " + std::to_string(max_url_length) + " characters");
  for (const char c : url) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte <= 0x20 || byte == 0x7f) return invalid("contains a space or a control character");
    if (byte >= 0x80) return invalid("contains a non-ASCII character (percent-encode it; IDN hosts in punycode)");
    if (c == '\\') return invalid("contains a backslash");
  }
  if (const auto hash = url.find('#'); hash != std::string_view::npos) url = url.substr(0, hash);

  const auto separator = url.find("://");
  if (separator == std::string_view::npos || separator == 0) return invalid("not an absolute URL (no scheme://)");
  const auto scheme_text = url.substr(0, separator);
  if (!is_alpha(scheme_text[0])) return invalid("malformed scheme");
  for (const char c : scheme_text) {
    if (!is_alpha(c) && !is_digit(c) && c != '+' && c != '-' && c != '.') return invalid("malformed scheme");
  }
  fetch_url out;
  out.scheme = lowered(scheme_text);
  if (out.scheme != "http" && out.scheme != "https") {
    return fetch_error{fetch_errc::unsupported_scheme,
                       "URL '" + std::string(url) + "': scheme '" + out.scheme + "' is not http or https"};
  }

  auto rest = url.substr(separator + 3);
  const auto authority_end = rest.find_first_of("/?");
  const auto authority = rest.substr(0, authority_end);
  if (authority_end != std::string_view::npos) {
    const auto target = rest.substr(authority_end);
    out.target = target.starts_with('?') ? "/" + std::string(target) : std::string(target);
  }
  if (authority.find('@') != std::string_view::npos) return invalid("user information (user@host) is not accepted");

  std::string_view host = authority;
  std::string_view port_text;
  if (authority.starts_with('[')) {
    const auto close = authority.find(']');
    if (close == std::string_view::npos) return invalid("unclosed '[' in the host");
    host = authority.substr(1, close - 1);
    const auto after = authority.substr(close + 1);
    if (!after.empty()) {
      if (!after.starts_with(':')) return invalid("expected ':' after the IPv6 address");
      port_text = after.substr(1);
    }
    if (host.find('%') != std::string_view::npos) return invalid("IPv6 zone identifiers are not accepted");
    boost::system::error_code ec;
    const auto v6 = boost::asio::ip::make_address_v6(std::string(host), ec);
    if (ec) return invalid("'" + std::string(host) + "' is not an IPv6 address");
    out.host = v6.to_string();
    out.host_is_ip = true;
  } else {
    if (const auto colon = authority.rfind(':'); colon != std::string_view::npos) {
      host = authority.substr(0, colon);
      port_text = authority.substr(colon + 1);
    }
    if (host.empty()) return invalid("no host");
    for (const char c : host) {
      if (!is_alpha(c) && !is_digit(c) && c != '-' && c != '.' && c != '_') {
        return invalid("host '" + std::string(host) + "' contains '" + std::string(1, c) + "'");
      }
    }
    out.host = lowered(host);
    boost::system::error_code ec;
    boost::asio::ip::make_address_v4(out.host, ec);
    out.host_is_ip = !ec;
  }

  out.port = default_port(out.scheme);
  if (!port_text.empty()) {
    unsigned port = 0;
    const auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
    if (ec != std::errc{} || end != port_text.data() + port_text.size() || port == 0 || port > 65535) {
      return invalid("port '" + std::string(port_text) + "' is not a number from 1 to 65535");
    }
    out.port = static_cast<std::uint16_t>(port);
  }
  return out;
}

std::variant<fetch_url, fetch_error> resolve_location(const fetch_url& base, std::string_view location) {
  if (location.empty()) {
    return fetch_error{fetch_errc::invalid_url, "redirect from '" + base.text() + "' has an empty Location"};
  }
  const auto scheme_end = location.find("://");
  if (scheme_end != std::string_view::npos && location.find_first_of("/?#") > scheme_end) {
    return parse_fetch_url(location);
  }
  if (location.starts_with("//")) return parse_fetch_url(base.scheme + ":" + std::string(location));
  const auto origin = base.scheme + "://" + base.host_header();
  if (location.starts_with('/')) return parse_fetch_url(origin + std::string(location));
  if (location.starts_with('#')) return base;
  const auto path = std::string_view(base.target).substr(0, base.target.find('?'));
  if (location.starts_with('?')) return parse_fetch_url(origin + std::string(path) + std::string(location));
  const auto directory = path.substr(0, path.rfind('/') + 1);
  return parse_fetch_url(origin + std::string(directory) + std::string(location));
}

}  // namespace surge::fetch
