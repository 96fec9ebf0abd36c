// Which addresses the fetch client refuses to connect to, and the allow-list.
#include "fetch/address_policy.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace surge::fetch {
namespace {

using ::testing::HasSubstr;
namespace ip = boost::asio::ip;

std::string refusal(const char* address) {
  return refusal_reason(ip::make_address(address)).value_or("allowed");
}

TEST(AddressPolicy, RefusesLocalAndSpecialIpv4) {
  EXPECT_THAT(refusal("127.0.0.1"), HasSubstr("loopback"));
  EXPECT_THAT(refusal("127.255.0.9"), HasSubstr("loopback"));
  EXPECT_THAT(refusal("10.0.0.1"), HasSubstr("private"));
  EXPECT_THAT(refusal("172.16.0.1"), HasSubstr("private"));
  EXPECT_THAT(refusal("172.31.255.255"), HasSubstr("private"));
  EXPECT_THAT(refusal("192.168.1.1"), HasSubstr("private"));
  EXPECT_THAT(refusal("100.64.0.1"), HasSubstr("CGNAT"));
  EXPECT_THAT(refusal("100.127.255.254"), HasSubstr("CGNAT"));
  EXPECT_THAT(refusal("169.254.169.254"), HasSubstr("link-local"));
  EXPECT_THAT(refusal("0.0.0.0"), HasSubstr("this network"));
  EXPECT_THAT(refusal("0.1.2.3"), HasSubstr("this network"));
  EXPECT_THAT(refusal("192.0.0.8"), HasSubstr("IETF"));
  EXPECT_THAT(refusal("198.18.0.1"), HasSubstr("benchmarking"));
  EXPECT_THAT(refusal("198.19.255.1"), HasSubstr("benchmarking"));
  EXPECT_THAT(refusal("224.0.0.1"), HasSubstr("multicast"));
  EXPECT_THAT(refusal("239.255.255.250"), HasSubstr("multicast"));
  EXPECT_THAT(refusal("240.0.0.1"), HasSubstr("reserved"));
  EXPECT_THAT(refusal("255.255.255.255"), HasSubstr("broadcast"));
  EXPECT_THAT(refusal("192.0.2.1"), HasSubstr("documentation"));
}

TEST(AddressPolicy, AllowsPublicIpv4JustOutsideTheRanges) {
  EXPECT_EQ(refusal("8.8.8.8"), "allowed");
  EXPECT_EQ(refusal("1.1.1.1"), "allowed");
  EXPECT_EQ(refusal("172.15.255.255"), "allowed");
  EXPECT_EQ(refusal("172.32.0.1"), "allowed");
  EXPECT_EQ(refusal("100.63.255.255"), "allowed");
  EXPECT_EQ(refusal("100.128.0.1"), "allowed");
  EXPECT_EQ(refusal("11.0.0.1"), "allowed");
  EXPECT_EQ(refusal("169.253.255.255"), "allowed");
  EXPECT_EQ(refusal("198.20.0.1"), "allowed");
  EXPECT_EQ(refusal("223.255.255.255"), "allowed");
}

TEST(AddressPolicy, RefusesLocalAndSpecialIpv6) {
  EXPECT_THAT(refusal("::1"), HasSubstr("loopback"));
  EXPECT_THAT(refusal("::"), HasSubstr("unspecified"));
  EXPECT_THAT(refusal("fe80::1"), HasSubstr("link-local"));
  EXPECT_THAT(refusal("febf::1"), HasSubstr("link-local"));
  EXPECT_THAT(refusal("fc00::1"), HasSubstr("unique-local"));
  EXPECT_THAT(refusal("fd12:3456::1"), HasSubstr("unique-local"));
  EXPECT_THAT(refusal("fec0::1"), HasSubstr("site-local"));
  EXPECT_THAT(refusal("ff02::1"), HasSubstr("multicast"));
  EXPECT_THAT(refusal("2001:db8::1"), HasSubstr("documentation"));
  EXPECT_THAT(refusal("100::1"), HasSubstr("global unicast"));
  EXPECT_THAT(refusal("64:ff9b:1::1"), HasSubstr("global unicast"));
  EXPECT_EQ(refusal("2606:4700:4700::1111"), "allowed");
  EXPECT_EQ(refusal("2a00:1450:4001:80b::200e"), "allowed");
}

TEST(AddressPolicy, JudgesIpv6FormsThatCarryAnIpv4ByTheIpv4Inside) {
  EXPECT_THAT(refusal("::ffff:10.0.0.1"), HasSubstr("IPv4-mapped 10.0.0.1: private"));
  EXPECT_THAT(refusal("::ffff:127.0.0.1"), HasSubstr("loopback"));
  EXPECT_THAT(refusal("::ffff:169.254.169.254"), HasSubstr("link-local"));
  EXPECT_EQ(refusal("::ffff:8.8.8.8"), "allowed");
  EXPECT_THAT(refusal("::10.0.0.1"), HasSubstr("IPv4-compatible 10.0.0.1"));
  EXPECT_THAT(refusal("::8.8.8.8"), HasSubstr("IPv4-compatible"));
  EXPECT_THAT(refusal("64:ff9b::a9fe:a9fe"), HasSubstr("NAT64 169.254.169.254"));
  EXPECT_EQ(refusal("64:ff9b::808:808"), "allowed");
  EXPECT_THAT(refusal("2002:c0a8:0101::1"), HasSubstr("6to4 192.168.1.1"));
  EXPECT_EQ(refusal("2002:0808:0808::1"), "allowed");
}

TEST(AddressPolicy, AllowListLetsNamedEndpointsThrough) {
  const auto entry = std::get<allowed_endpoint>(parse_allowed_endpoint("127.0.0.1:8080"));
  const std::vector<allowed_endpoint> allowed{entry, std::get<allowed_endpoint>(parse_allowed_endpoint("[::1]:9000"))};
  const auto check = [&](const char* address, unsigned short port) {
    return endpoint_refusal(ip::tcp::endpoint(ip::make_address(address), port), allowed).value_or("allowed");
  };
  EXPECT_EQ(check("127.0.0.1", 8080), "allowed");
  EXPECT_EQ(check("::ffff:127.0.0.1", 8080), "allowed");
  EXPECT_EQ(check("::1", 9000), "allowed");
  EXPECT_THAT(check("127.0.0.1", 8081), HasSubstr("loopback"));
  EXPECT_THAT(check("127.0.0.2", 8080), HasSubstr("loopback"));
  EXPECT_THAT(check("::1", 8080), HasSubstr("loopback"));
  EXPECT_EQ(check("8.8.8.8", 443), "allowed");
}

TEST(AddressPolicy, AllowListEntriesNameTheirProblem) {
  const auto problem = [](std::string_view text) { return std::get<std::string>(parse_allowed_endpoint(text)); };
  EXPECT_THAT(problem("127.0.0.1"), HasSubstr("expected address:port"));
  EXPECT_THAT(problem("localhost:80"), HasSubstr("not an IP address"));
  EXPECT_THAT(problem("127.0.0.1:0"), HasSubstr("port '0'"));
  EXPECT_THAT(problem("127.0.0.1:70000"), HasSubstr("port '70000'"));
  EXPECT_THAT(problem("::1:80"), HasSubstr("needs brackets"));
  EXPECT_THAT(problem("[::1]"), HasSubstr("[IPv6]:port"));
}

}  // namespace
}  // namespace surge::fetch
