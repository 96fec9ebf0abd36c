// The fetch client against a real HTTP server on loopback (allow-listed), and
// against an injected resolver for the addresses it must refuse: no test
// connects to a private range.
#include "fetch/fetcher.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "fetch/fetch_test_support.hpp"
#include "fetch/local_http_server.hpp"

namespace surge::fetch {
namespace {

using ::testing::HasSubstr;
using testing::allowing;
using testing::body_of;
using testing::canned_reply;
using testing::error_of;
using testing::local_http_server;
using testing::run;
using testing::table_resolver;
namespace asio = boost::asio;

canned_reply ok(std::string body, std::string type = "image/png") {
  canned_reply reply;
  reply.body = std::move(body);
  reply.content_type = std::move(type);
  return reply;
}

TEST(Fetcher, FetchesABodyAndItsContentType) {
  local_http_server server([](const std::string& target) { return ok("png bytes for " + target); });
  fetcher client(allowing({&server}));
  auto result = run(client.fetch(server.url("/cat.png")));
  EXPECT_EQ(body_of(result).body, "png bytes for /cat.png");
  EXPECT_EQ(body_of(result).content_type, "image/png");
  EXPECT_EQ(body_of(result).url, server.url("/cat.png"));
}

TEST(Fetcher, NonSuccessStatusIsAnErrorWithTheStatus) {
  local_http_server server([](const std::string&) {
    canned_reply reply;
    reply.status = 404;
    reply.body = "not here";
    return reply;
  });
  fetcher client(allowing({&server}));
  auto failure = error_of(run(client.fetch(server.url("/missing.png"))));
  EXPECT_EQ(failure.code, fetch_errc::http_status);
  EXPECT_EQ(failure.status, 404u);
  EXPECT_THAT(failure.message, HasSubstr("HTTP status 404"));
  EXPECT_THAT(failure.message, HasSubstr("/missing.png"));
}

TEST(Fetcher, ASlowServerRunsIntoTheTotalTimeout) {
  local_http_server server([](const std::string&) {
    auto reply = ok("late");
    reply.delay = std::chrono::seconds(30);
    return reply;
  });
  auto limits = allowing({&server});
  limits.total_timeout = std::chrono::milliseconds(200);
  fetcher client(limits);
  auto failure = error_of(run(client.fetch(server.url("/slow.png"))));
  EXPECT_EQ(failure.code, fetch_errc::total_timeout);
  EXPECT_THAT(failure.message, HasSubstr("200 ms"));
}

TEST(Fetcher, RefusesAnOversizedContentLengthWithoutReadingTheBody) {
  local_http_server server([](const std::string&) {
    canned_reply reply;
    reply.declared_length = 100ull << 20;
    return reply;
  });
  auto limits = allowing({&server});
  limits.max_body_bytes = 1 << 20;
  fetcher client(limits);
  auto failure = error_of(run(client.fetch(server.url("/huge.png"))));
  EXPECT_EQ(failure.code, fetch_errc::too_large);
  EXPECT_THAT(failure.message, HasSubstr("Content-Length 104857600 exceeds the limit of 1048576 bytes"));
}

TEST(Fetcher, StopsReadingAChunkedBodyAtTheLimit) {
  constexpr std::uint64_t offered = 256ull << 20;
  local_http_server server([](const std::string&) {
    canned_reply reply;
    reply.chunked_bytes = offered;
    return reply;
  });
  auto limits = allowing({&server});
  limits.max_body_bytes = 256 << 10;
  fetcher client(limits);
  auto failure = error_of(run(client.fetch(server.url("/stream.png"))));
  EXPECT_EQ(failure.code, fetch_errc::too_large);
  EXPECT_THAT(failure.message, HasSubstr("body exceeds the limit of 262144 bytes"));
  // The server's writes fail once the client has closed; what it wrote is
  // the limit plus what the socket buffers took, far from all it offered.
  EXPECT_LT(server.chunked_bytes_written(), offered);
}

TEST(Fetcher, FollowsRedirectsUpToTheLimit) {
  // /r/N redirects to /r/N-1 (relative); /r/0 answers.
  local_http_server server([](const std::string& target) {
    const int left = std::stoi(target.substr(3));
    if (left == 0) return ok("arrived", "image/jpeg");
    canned_reply reply;
    reply.status = left % 2 ? 302 : 301;
    reply.headers.emplace_back("Location", std::to_string(left - 1));
    return reply;
  });
  auto limits = allowing({&server});
  limits.max_redirects = 3;
  fetcher client(limits);
  auto three = run(client.fetch(server.url("/r/3")));
  EXPECT_EQ(body_of(three).body, "arrived");
  EXPECT_EQ(body_of(three).url, server.url("/r/0"));
  auto failure = error_of(run(client.fetch(server.url("/r/4"))));
  EXPECT_EQ(failure.code, fetch_errc::too_many_redirects);
  EXPECT_THAT(failure.message, HasSubstr("more than 3 redirects"));
}

TEST(Fetcher, RefusesARedirectToAnEndpointNotAllowed) {
  local_http_server inside([](const std::string&) { return ok("internal secret"); });
  const auto inside_url = inside.url("/secret");
  local_http_server outside([inside_url](const std::string&) {
    canned_reply reply;
    reply.status = 307;
    reply.headers.emplace_back("Location", inside_url);
    return reply;
  });
  fetcher client(allowing({&outside}));
  auto failure = error_of(run(client.fetch(outside.url("/image.png"))));
  EXPECT_EQ(failure.code, fetch_errc::refused_address);
  EXPECT_THAT(failure.message, HasSubstr(inside.endpoint() + " is loopback"));
  EXPECT_EQ(outside.connections(), 1);
  EXPECT_EQ(inside.connections(), 0);
}

TEST(Fetcher, RefusesLoopbackThatIsNotAllowListed) {
  local_http_server server([](const std::string&) { return ok("x"); });
  fetcher client(fetch_limits{});
  auto failure = error_of(run(client.fetch(server.url("/x.png"))));
  EXPECT_EQ(failure.code, fetch_errc::refused_address);
  EXPECT_THAT(failure.message, HasSubstr("loopback"));
  EXPECT_EQ(server.connections(), 0);
}

TEST(Fetcher, RefusesWhatANameResolvesToBeforeConnecting) {
  auto resolver = std::make_shared<table_resolver>(std::map<std::string, std::vector<std::string>>{
      {"metadata.test", {"169.254.169.254"}},
      {"private.test", {"10.0.0.1"}},
      {"mapped.test", {"::ffff:10.0.0.1"}},
      {"cgnat.test", {"100.64.1.2"}},
      {"ula.test", {"fd00::5"}},
      {"many.test", {"10.1.2.3", "fe80::1", "192.168.0.7"}},
  });
  fetcher client(fetch_limits{}, resolver);
  const auto refused = [&](const std::string& host) {
    auto failure = error_of(run(client.fetch("http://" + host + "/latest/meta-data/")));
    EXPECT_EQ(failure.code, fetch_errc::refused_address) << host;
    return failure.message;
  };
  EXPECT_THAT(refused("metadata.test"), HasSubstr("169.254.169.254:80 is link-local"));
  EXPECT_THAT(refused("private.test"), HasSubstr("10.0.0.1:80 is private"));
  EXPECT_THAT(refused("mapped.test"), HasSubstr("IPv4-mapped 10.0.0.1"));
  EXPECT_THAT(refused("cgnat.test"), HasSubstr("CGNAT"));
  EXPECT_THAT(refused("ula.test"), HasSubstr("unique-local"));
  const auto all = refused("many.test");
  EXPECT_THAT(all, HasSubstr("10.1.2.3:80"));
  EXPECT_THAT(all, HasSubstr("[fe80::1]:80"));
  EXPECT_THAT(all, HasSubstr("192.168.0.7:80"));
  auto missing = error_of(run(client.fetch("http://missing.test/a.png")));
  EXPECT_EQ(missing.code, fetch_errc::dns_failure);
  EXPECT_THAT(missing.message, HasSubstr("cannot resolve 'missing.test'"));
}

TEST(Fetcher, ConnectsOnlyToTheAddressThatPassedTheCheck) {
  local_http_server server([](const std::string&) { return ok("allowed one"); });
  // A name with a refused address first: the fetch resolves once and skips it.
  auto resolver = std::make_shared<table_resolver>(
      std::map<std::string, std::vector<std::string>>{{"images.test", {"10.0.0.1", "127.0.0.1"}}});
  fetcher client(allowing({&server}), resolver);
  auto result = run(client.fetch("http://images.test:" + std::to_string(server.port()) + "/a.png"));
  EXPECT_EQ(body_of(result).body, "allowed one");
  EXPECT_EQ(resolver->lookups.load(), 1);
  EXPECT_EQ(server.connections(), 1);
}

TEST(Fetcher, HttpsToAPlainServerIsATlsFailure) {
  local_http_server server([](const std::string&) { return ok("plain"); });
  fetcher client(allowing({&server}));
  auto failure = error_of(run(client.fetch("https://127.0.0.1:" + std::to_string(server.port()) + "/a.png")));
  EXPECT_EQ(failure.code, fetch_errc::tls_failure);
  EXPECT_THAT(failure.message, HasSubstr("TLS handshake"));
}

TEST(Fetcher, ABatchAnswersEachUrlInOrder) {
  local_http_server server([](const std::string& target) {
    if (target == "/gone.png") {
      canned_reply reply;
      reply.status = 410;
      return reply;
    }
    return ok("body of " + target);
  });
  auto resolver = std::make_shared<table_resolver>(
      std::map<std::string, std::vector<std::string>>{{"metadata.test", {"169.254.169.254"}}});
  fetcher client(allowing({&server}), resolver);
  auto results = run(client.fetch_all({server.url("/a.png"), "not a url", server.url("/gone.png"),
                                       "http://metadata.test/", "ftp://x/y", server.url("/b.png")}));
  ASSERT_EQ(results.size(), 6u);
  EXPECT_EQ(body_of(results[0]).body, "body of /a.png");
  EXPECT_EQ(error_of(results[1]).code, fetch_errc::invalid_url);
  EXPECT_EQ(error_of(results[2]).status, 410u);
  EXPECT_EQ(error_of(results[3]).code, fetch_errc::refused_address);
  EXPECT_EQ(error_of(results[4]).code, fetch_errc::unsupported_scheme);
  EXPECT_EQ(body_of(results[5]).body, "body of /b.png");
  EXPECT_TRUE(run(client.fetch_all({})).empty());
}

TEST(Fetcher, KeepsToThePerHostLimit) {
  local_http_server server([](const std::string& target) {
    auto reply = ok(target);
    reply.delay = std::chrono::milliseconds(20);
    return reply;
  });
  auto limits = allowing({&server});
  limits.max_per_host = 2;
  limits.max_concurrency = 50;
  fetcher client(limits);
  std::vector<std::string> urls;
  for (int i = 0; i < 12; ++i) urls.push_back(server.url("/" + std::to_string(i)));
  auto results = run(client.fetch_all(urls), 4);
  for (int i = 0; i < 12; ++i) EXPECT_EQ(body_of(results[i]).body, "/" + std::to_string(i));
  EXPECT_EQ(server.connections(), 12);
  EXPECT_LE(server.most_at_once(), 2);
  EXPECT_GE(server.most_at_once(), 1);
}

TEST(Fetcher, KeepsToTheGlobalLimitAcrossHosts) {
  local_http_server server([](const std::string& target) {
    auto reply = ok(target);
    reply.delay = std::chrono::milliseconds(10);
    return reply;
  });
  auto limits = allowing({&server});
  limits.max_per_host = 100;
  limits.max_concurrency = 3;
  // One server under two host names: two per-host queues, one global limit.
  auto resolver = std::make_shared<table_resolver>(
      std::map<std::string, std::vector<std::string>>{{"images.test", {"127.0.0.1"}}});
  fetcher client(limits, resolver);
  std::vector<std::string> urls;
  for (int i = 0; i < 10; ++i) {
    urls.push_back(server.url("/" + std::to_string(i)));
    urls.push_back("http://images.test:" + std::to_string(server.port()) + "/" + std::to_string(i));
  }
  auto results = run(client.fetch_all(urls), 4);
  for (const auto& result : results) EXPECT_FALSE(body_of(result).body.empty());
  EXPECT_EQ(server.connections(), 20);
  EXPECT_LE(server.most_at_once(), 3);
}

TEST(Fetcher, ConnectionRefusedIsAConnectFailure) {
  asio::io_context io;
  asio::ip::tcp::acceptor probe(io, asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  const auto port = probe.local_endpoint().port();
  probe.close();
  fetch_limits limits;
  limits.allowed.push_back({asio::ip::make_address("127.0.0.1"), port});
  fetcher client(limits);
  auto failure = error_of(run(client.fetch("http://127.0.0.1:" + std::to_string(port) + "/")));
  EXPECT_EQ(failure.code, fetch_errc::connect_failed);
}

}  // namespace
}  // namespace surge::fetch
