// What the fetch client accepts as a URL, and how a redirect's Location resolves.
#include "fetch/fetch_url.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace surge::fetch {
namespace {

using ::testing::HasSubstr;

fetch_url parsed(std::string_view text) {
  auto result = parse_fetch_url(text);
  if (auto* problem = std::get_if<fetch_error>(&result)) ADD_FAILURE() << problem->message;
  return std::get_if<fetch_url>(&result) ? std::get<fetch_url>(result) : fetch_url{};
}

fetch_error problem(std::string_view text) {
  auto result = parse_fetch_url(text);
  if (std::holds_alternative<fetch_url>(result)) {
    ADD_FAILURE() << "accepted " << text;
    return {};
  }
  return std::get<fetch_error>(result);
}

TEST(FetchUrl, SplitsSchemeHostPortAndTarget) {
  auto url = parsed("http://Images.Example.COM:8080/a/b.png?x=1");
  EXPECT_EQ(url.scheme, "http");
  EXPECT_EQ(url.host, "images.example.com");
  EXPECT_EQ(url.port, 8080);
  EXPECT_EQ(url.target, "/a/b.png?x=1");
  EXPECT_FALSE(url.host_is_ip);
  EXPECT_EQ(url.host_header(), "images.example.com:8080");
  EXPECT_EQ(url.text(), "http://images.example.com:8080/a/b.png?x=1");
}

TEST(FetchUrl, DefaultsPortAndPathAndLowersTheScheme) {
  auto secure = parsed("HTTPS://example.com");
  EXPECT_EQ(secure.scheme, "https");
  EXPECT_EQ(secure.port, 443);
  EXPECT_EQ(secure.target, "/");
  EXPECT_EQ(secure.host_header(), "example.com");
  EXPECT_EQ(parsed("http://example.com:/x").port, 80);
  EXPECT_EQ(parsed("http://example.com?q=1").target, "/?q=1");
  EXPECT_EQ(parsed("https://example.com:443/").host_header(), "example.com");
}

TEST(FetchUrl, DropsTheFragment) {
  EXPECT_EQ(parsed("http://example.com/a.png#part").target, "/a.png");
  EXPECT_EQ(parsed("http://example.com#part").target, "/");
  EXPECT_EQ(parsed("http://example.com/a?b=1#c?d").target, "/a?b=1");
}

TEST(FetchUrl, TakesIpLiterals) {
  auto v4 = parsed("http://127.0.0.1:9000/x");
  EXPECT_TRUE(v4.host_is_ip);
  EXPECT_EQ(v4.host, "127.0.0.1");
  auto v6 = parsed("http://[::FFFF:10.0.0.1]:81/p");
  EXPECT_TRUE(v6.host_is_ip);
  EXPECT_EQ(v6.host, "::ffff:10.0.0.1");
  EXPECT_EQ(v6.port, 81);
  EXPECT_EQ(v6.host_header(), "[::ffff:10.0.0.1]:81");
  EXPECT_EQ(parsed("https://[2001:db8::1]/").host_header(), "[2001:db8::1]");
  // Not dotted-quad: left to the resolver, whose answer the policy judges.
  EXPECT_FALSE(parsed("http://2130706433/").host_is_ip);
}

TEST(FetchUrl, RefusesUserInformation) {
  EXPECT_THAT(problem("http://user:pass@example.com/").message, HasSubstr("user information"));
  EXPECT_THAT(problem("http://trusted.com@127.0.0.1/").message, HasSubstr("user information"));
  EXPECT_EQ(problem("http://@example.com/").code, fetch_errc::invalid_url);
}

TEST(FetchUrl, NamesWhatIsWrong) {
  EXPECT_EQ(problem("ftp://example.com/x").code, fetch_errc::unsupported_scheme);
  EXPECT_THAT(problem("file:///etc/passwd").message, HasSubstr("scheme 'file'"));
  EXPECT_EQ(problem("gopher://h/").code, fetch_errc::unsupported_scheme);
  EXPECT_EQ(problem("").code, fetch_errc::invalid_url);
  EXPECT_THAT(problem("example.com/a.png").message, HasSubstr("not an absolute URL"));
  EXPECT_THAT(problem("//example.com/a.png").message, HasSubstr("not an absolute URL"));
  EXPECT_THAT(problem("http:///a.png").message, HasSubstr("no host"));
  EXPECT_THAT(problem("http://h:0/").message, HasSubstr("port '0'"));
  EXPECT_THAT(problem("http://h:65536/").message, HasSubstr("port '65536'"));
  EXPECT_THAT(problem("http://h:8o/").message, HasSubstr("port '8o'"));
  EXPECT_THAT(problem("http://[::1/").message, HasSubstr("unclosed"));
  EXPECT_THAT(problem("http://[::1]x/").message, HasSubstr("expected ':'"));
  EXPECT_THAT(problem("http://[fe80::1%25eth0]/").message, HasSubstr("zone"));
  EXPECT_THAT(problem("http://[nothex]/").message, HasSubstr("not an IPv6 address"));
  EXPECT_THAT(problem("http://ex ample.com/").message, HasSubstr("space"));
  EXPECT_THAT(problem("http://example.com/a\r\nHost: evil").message, HasSubstr("control"));
  EXPECT_THAT(problem("http://ex\xc3\xa4mple.com/").message, HasSubstr("non-ASCII"));
  EXPECT_THAT(problem("http://example.com\\@evil.com/").message, HasSubstr("backslash"));
  EXPECT_THAT(problem("http://exa%6dple.com/").message, HasSubstr("contains '%'"));
  EXPECT_THAT(problem("1http://h/").message, HasSubstr("malformed scheme"));
  EXPECT_THAT(problem("http://h/" + std::string(9000, 'a')).message, HasSubstr("longer than"));
}

TEST(FetchUrl, ResolvesRedirectLocations) {
  const auto base = parsed("https://img.example.com:8443/dir/a.png?x=1");
  const auto next = [&](std::string_view location) {
    auto result = resolve_location(base, location);
    return std::holds_alternative<fetch_url>(result) ? std::get<fetch_url>(result).text()
                                                     : "error: " + std::get<fetch_error>(result).message;
  };
  EXPECT_EQ(next("http://other.example/b.png"), "http://other.example/b.png");
  EXPECT_EQ(next("//cdn.example/c.png"), "https://cdn.example/c.png");
  EXPECT_EQ(next("/root.png"), "https://img.example.com:8443/root.png");
  EXPECT_EQ(next("sibling.png"), "https://img.example.com:8443/dir/sibling.png");
  EXPECT_EQ(next("?y=2"), "https://img.example.com:8443/dir/a.png?y=2");
  EXPECT_EQ(next("/path?with=a://colon"), "https://img.example.com:8443/path?with=a://colon");
  EXPECT_THAT(next("ftp://x/"), HasSubstr("not http or https"));
  EXPECT_THAT(next(""), HasSubstr("empty Location"));
}

}  // namespace
}  // namespace surge::fetch
