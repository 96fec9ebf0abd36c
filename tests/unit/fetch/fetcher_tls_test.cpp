// https against a loopback server with a certificate made in the test:
// trusted through ca_file, checked against the host name, refused otherwise.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "fetch/fetch_test_support.hpp"
#include "fetch/fetcher.hpp"
#include "fetch/local_http_server.hpp"
#include "fetch/test_certificate.hpp"
#include "support/temp_dir.hpp"

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

class FetcherTls : public ::testing::Test {
 protected:
  FetcherTls()
      : certificate_(testing::make_self_signed("DNS:images.test,IP:127.0.0.1")),
        server_(
            [](const std::string& target) {
              canned_reply reply;
              reply.body = "secure " + target;
              reply.content_type = "image/webp";
              return reply;
            },
            &certificate_),
        resolver_(std::make_shared<table_resolver>(std::map<std::string, std::vector<std::string>>{
            {"images.test", {"127.0.0.1"}}, {"other.test", {"127.0.0.1"}}})) {
    surge::testing::write_file(dir_.path() / "ca.pem", certificate_.certificate_pem);
  }

  fetch_limits trusting() const {
    auto limits = allowing({&server_});
    limits.ca_file = (dir_.path() / "ca.pem").string();
    return limits;
  }
  std::string url(const std::string& host, const std::string& target) const {
    return "https://" + host + ":" + std::to_string(server_.port()) + target;
  }

  surge::testing::temp_dir dir_;
  testing::test_certificate certificate_;
  local_http_server server_;
  std::shared_ptr<table_resolver> resolver_;
};

TEST_F(FetcherTls, FetchesWhenTheCertificateIsTrustedAndNamesTheHost) {
  fetcher client(trusting(), resolver_);
  auto by_name = run(client.fetch(url("images.test", "/a.webp")));
  EXPECT_EQ(body_of(by_name).body, "secure /a.webp");
  EXPECT_EQ(body_of(by_name).content_type, "image/webp");
  auto by_address = run(client.fetch(url("127.0.0.1", "/b.webp")));
  EXPECT_EQ(body_of(by_address).body, "secure /b.webp");
}

TEST_F(FetcherTls, RefusesACertificateForAnotherName) {
  fetcher client(trusting(), resolver_);
  auto failure = error_of(run(client.fetch(url("other.test", "/a.webp"))));
  EXPECT_EQ(failure.code, fetch_errc::tls_failure);
  EXPECT_THAT(failure.message, HasSubstr("TLS handshake"));
}

TEST_F(FetcherTls, RefusesACertificateNotInTheTrustStore) {
  fetcher client(allowing({&server_}), resolver_);  // the system CA store
  auto failure = error_of(run(client.fetch(url("images.test", "/a.webp"))));
  EXPECT_EQ(failure.code, fetch_errc::tls_failure);
  EXPECT_THAT(failure.message, HasSubstr("certificate verify failed"));
}

TEST_F(FetcherTls, AcceptsAnyCertificateOnlyWhenVerificationIsOff) {
  auto limits = allowing({&server_});
  limits.verify_tls = false;
  fetcher client(limits, resolver_);
  EXPECT_EQ(body_of(run(client.fetch(url("other.test", "/c.webp")))).body, "secure /c.webp");
}

TEST(FetcherTlsSetup, AMissingCaFileIsRefusedAtConstruction) {
  fetch_limits limits;
  limits.ca_file = "/nonexistent/ca.pem";
  EXPECT_THROW(fetcher client(limits), std::invalid_argument);
}

}  // namespace
}  // namespace surge::fetch
