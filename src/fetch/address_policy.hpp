#pragma once

#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace surge::fetch {

// Why the server must not connect to an address on a user's behalf, or
// nullopt for a public unicast address. Covers loopback, RFC 1918, CGNAT,
// link-local (cloud metadata at 169.254.169.254), multicast, broadcast,
// unspecified, reserved and documentation ranges, IPv6 unique-local and
// site-local, and every IPv6 form that embeds an IPv4 address (mapped,
// compatible, NAT64 64:ff9b::/96, 6to4), judged by the IPv4 inside.
std::optional<std::string> refusal_reason(const boost::asio::ip::address& address);

// One address:port the policy lets through although it is refused by
// refusal_reason (a local image server in tests, a sidecar in production).
struct allowed_endpoint {
  boost::asio::ip::address address;
  std::uint16_t port{0};

  friend bool operator==(const allowed_endpoint&, const allowed_endpoint&) = default;
};

// "127.0.0.1:8080" or "[::1]:8080"; the error names the entry and the problem.
std::variant<allowed_endpoint, std::string> parse_allowed_endpoint(std::string_view text);

// The refusal of one endpoint, or nullopt when it may be connected to:
// allowed by the list, or not refused by refusal_reason.
std::optional<std::string> endpoint_refusal(const boost::asio::ip::tcp::endpoint& endpoint,
                                            const std::vector<allowed_endpoint>& allowed);

}  // namespace surge::fetch
