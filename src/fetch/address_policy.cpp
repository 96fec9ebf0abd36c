#include "fetch/address_policy.hpp"

#include <array>
#include <charconv>

namespace surge::fetch {

namespace ip = boost::asio::ip;

namespace {

struct v4_range {
  std::uint32_t network;
  unsigned prefix;
  std::string_view why;
};

constexpr std::uint32_t v4(unsigned a, unsigned b, unsigned c, unsigned d) {
  return (a << 24) | (b << 16) | (c << 8) | d;
}

// IANA's IPv4 special-purpose registry, less what is globally reachable.
constexpr std::array<v4_range, 16> refused_v4{{
    {v4(0, 0, 0, 0), 8, "'this network' (0.0.0.0/8)"},
    {v4(10, 0, 0, 0), 8, "private (10.0.0.0/8)"},
    {v4(100, 64, 0, 0), 10, "shared address space (CGNAT, 100.64.0.0/10)"},
    {v4(127, 0, 0, 0), 8, "loopback (127.0.0.0/8)"},
    {v4(169, 254, 0, 0), 16, "link-local (169.254.0.0/16, cloud metadata)"},
    {v4(172, 16, 0, 0), 12, "private (172.16.0.0/12)"},
    {v4(192, 0, 0, 0), 24, "IETF protocol assignments (192.0.0.0/24)"},
    {v4(192, 0, 2, 0), 24, "documentation (192.0.2.0/24)"},
    {v4(192, 88, 99, 0), 24, "6to4 relay anycast (192.88.99.0/24)"},
    {v4(192, 168, 0, 0), 16, "private (192.168.0.0/16)"},
    {v4(198, 18, 0, 0), 15, "benchmarking (198.18.0.0/15)"},
    {v4(198, 51, 100, 0), 24, "documentation (198.51.100.0/24)"},
    {v4(203, 0, 113, 0), 24, "documentation (203.0.113.0/24)"},
    {v4(224, 0, 0, 0), 4, "multicast (224.0.0.0/4)"},
    {v4(255, 255, 255, 255), 32, "broadcast (255.255.255.255)"},
    {v4(240, 0, 0, 0), 4, "reserved (240.0.0.0/4)"},
}};

bool in(std::uint32_t address, std::uint32_t network, unsigned prefix) {
  const std::uint32_t mask = prefix == 0 ? 0 : ~std::uint32_t{0} << (32 - prefix);
  return (address & mask) == network;
}

std::optional<std::string> v4_refusal(const ip::address_v4& address) {
  const auto value = address.to_uint();
  for (const auto& range : refused_v4) {
    if (in(value, range.network, range.prefix)) return std::string(range.why);
  }
  return std::nullopt;
}

ip::address_v4 v4_from(const ip::address_v6::bytes_type& bytes, std::size_t at) {
  return ip::address_v4(ip::address_v4::bytes_type{bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]});
}

std::optional<std::string> embedded(std::string_view form, const ip::address_v4& inner) {
  auto why = v4_refusal(inner);
  if (!why) return std::nullopt;
  return std::string(form) + " " + inner.to_string() + ": " + *why;
}

bool zeros(const ip::address_v6::bytes_type& bytes, std::size_t from, std::size_t to) {
  for (auto i = from; i < to; ++i) {
    if (bytes[i] != 0) return false;
  }
  return true;
}

std::optional<std::string> v6_refusal(const ip::address_v6& address) {
  const auto b = address.to_bytes();
  if (address.is_v4_mapped()) return embedded("IPv4-mapped", v4_from(b, 12));
  if (address.is_unspecified()) return std::string("unspecified (::)");
  if (address.is_loopback()) return std::string("loopback (::1)");
  // IPv4-compatible (::a.b.c.d, deprecated, still routed by some stacks).
  if (zeros(b, 0, 12)) {
    auto why = embedded("IPv4-compatible", v4_from(b, 12));
    return why ? why : std::string("IPv4-compatible (::/96, deprecated)");
  }
  // NAT64 well-known prefix: the gateway connects to the IPv4 inside.
  if (b[0] == 0x00 && b[1] == 0x64 && b[2] == 0xff && b[3] == 0x9b && zeros(b, 4, 12)) {
    return embedded("NAT64", v4_from(b, 12));
  }
  if (b[0] == 0xff) return std::string("multicast (ff00::/8)");
  if (b[0] == 0xfe && (b[1] & 0xc0) == 0x80) return std::string("link-local (fe80::/10)");
  if (b[0] == 0xfe && (b[1] & 0xc0) == 0xc0) return std::string("site-local (fec0::/10, deprecated)");
  if ((b[0] & 0xfe) == 0xfc) return std::string("unique-local (fc00::/7)");
  // Everything else outside global unicast 2000::/3 is reserved, or is the
  // local-use NAT64 prefix 64:ff9b:1::/48, or discard-only 100::/64.
  if ((b[0] & 0xe0) != 0x20) return std::string("not global unicast (outside 2000::/3)");
  if (b[0] == 0x20 && b[1] == 0x01 && b[2] == 0x0d && b[3] == 0xb8) return std::string("documentation (2001:db8::/32)");
  if (b[0] == 0x20 && b[1] == 0x02) return embedded("6to4", v4_from(b, 2));
  return std::nullopt;
}

ip::address unmapped(const ip::address& address) {
  if (address.is_v6() && address.to_v6().is_v4_mapped()) {
    return ip::make_address_v4(ip::v4_mapped, address.to_v6());
  }
  return address;
}

}  // namespace

std::optional<std::string> refusal_reason(const ip::address& address) {
  return address.is_v4() ? v4_refusal(address.to_v4()) : v6_refusal(address.to_v6());
}

std::variant<allowed_endpoint, std::string> parse_allowed_endpoint(std::string_view text) {
  const auto invalid = [text](std::string_view why) {
    return "allowed endpoint '" + std::string(text) + "': " + std::string(why);
  };
  std::string_view host;
  std::string_view port_text;
  if (text.starts_with('[')) {
    const auto close = text.find("]:");
    if (close == std::string_view::npos) return invalid("expected [IPv6]:port");
    host = text.substr(1, close - 1);
    port_text = text.substr(close + 2);
  } else {
    const auto colon = text.rfind(':');
    if (colon == std::string_view::npos) return invalid("expected address:port");
    host = text.substr(0, colon);
    port_text = text.substr(colon + 1);
    if (host.find(':') != std::string_view::npos) return invalid("an IPv6 address needs brackets: [address]:port");
  }
  boost::system::error_code ec;
  const auto address = ip::make_address(std::string(host), ec);
  if (ec) return invalid("'" + std::string(host) + "' is not an IP address (host names are not accepted)");
  unsigned port = 0;
  const auto [end, parse_ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (parse_ec != std::errc{} || end != port_text.data() + port_text.size() || port == 0 || port > 65535) {
    return invalid("port '" + std::string(port_text) + "' is not a number from 1 to 65535");
  }
  return allowed_endpoint{unmapped(address), static_cast<std::uint16_t>(port)};
}

std::optional<std::string> endpoint_refusal(const ip::tcp::endpoint& endpoint,
                                            const std::vector<allowed_endpoint>& allowed) {
  const allowed_endpoint candidate{unmapped(endpoint.address()), endpoint.port()};
  for (const auto& entry : allowed) {
    if (entry == candidate) return std::nullopt;
  }
  return refusal_reason(endpoint.address());
}

}  // namespace surge::fetch
