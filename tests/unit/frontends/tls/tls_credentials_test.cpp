// Loading a listener's TLS files and reloading them: errors name the flag and
// the file, and a reload that fails keeps the context that was serving.
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <functional>
#include <memory>
#include <string>

#include "frontends/tls/tls_context.hpp"
#include "frontends/tls/tls_credentials.hpp"
#include "support/self_signed.hpp"
#include "support/temp_dir.hpp"

namespace surge::tls {
namespace {

using surge::testing::temp_dir;
using surge::testing::pem_pair;
using surge::testing::self_signed;
using surge::testing::write_file;

// The common name of the certificate a context serves.
std::string served_name(boost::asio::ssl::context& context) {
  X509* cert = SSL_CTX_get0_certificate(context.native_handle());
  if (!cert) return {};
  char buffer[256] = {};
  X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, buffer, sizeof buffer);
  return buffer;
}

class tls_files_test : public ::testing::Test {
 protected:
  void SetUp() override {
    one_ = self_signed("one");
    two_ = self_signed("two");
    write_file(cert(), one_.certificate);
    write_file(key(), one_.key);
  }
  std::string cert() const { return (dir_.path() / "server.pem").string(); }
  std::string key() const { return (dir_.path() / "server.key").string(); }
  tls_files files() const { return {cert(), key(), {}}; }

  std::string load_error(const tls_files& given) const {
    auto loaded = load_server_context(given, "http/1.1");
    const auto* failure = std::get_if<error>(&loaded);
    return failure ? failure->message : "";
  }

  temp_dir dir_{"surge_tls"};
  pem_pair one_;
  pem_pair two_;
};

TEST_F(tls_files_test, loads_a_matching_certificate_and_key) {
  auto loaded = load_server_context(files(), "h2");
  ASSERT_TRUE(std::holds_alternative<std::shared_ptr<boost::asio::ssl::context>>(loaded)) << load_error(files());
  auto& context = *std::get<std::shared_ptr<boost::asio::ssl::context>>(loaded);
  EXPECT_EQ(served_name(context), "one");
  EXPECT_EQ(SSL_CTX_get_verify_mode(context.native_handle()), SSL_VERIFY_NONE);
}

TEST_F(tls_files_test, errors_name_the_flag_and_the_file) {
  const std::string missing = (dir_.path() / "absent.pem").string();
  EXPECT_EQ(load_error({missing, key(), {}}),
            "--tls-cert-file '" + missing + "': cannot read: No such file or directory");
  EXPECT_EQ(load_error({cert(), missing, {}}), "--tls-key-file '" + missing + "': cannot read: No such file or directory");

  const std::string garbage = (dir_.path() / "garbage.pem").string();
  write_file(garbage, "not pem\n");
  EXPECT_EQ(load_error({garbage, key(), {}}).rfind("--tls-cert-file '" + garbage + "': not a PEM certificate chain", 0),
            0u);
  EXPECT_EQ(load_error({cert(), garbage, {}}).rfind("--tls-key-file '" + garbage + "': not a PEM private key", 0), 0u);
  EXPECT_EQ(load_error({cert(), key(), garbage}).rfind("--tls-client-ca-file '" + garbage + "':", 0), 0u);

  const std::string other_key = (dir_.path() / "other.key").string();
  write_file(other_key, two_.key);
  EXPECT_EQ(load_error({cert(), other_key, {}}),
            "--tls-key-file '" + other_key + "': does not match the certificate of --tls-cert-file '" + cert() + "'");
}

TEST_F(tls_files_test, flags_come_together) {
  EXPECT_FALSE(check_flags({}));
  EXPECT_EQ(check_flags({{}, key(), {}})->message, "--tls-key-file needs --tls-cert-file");
  EXPECT_EQ(check_flags({{}, {}, cert()})->message, "--tls-client-ca-file needs --tls-cert-file");
  EXPECT_EQ(check_flags({cert(), {}, {}})->message, "--tls-cert-file needs --tls-key-file");
}

TEST_F(tls_files_test, a_client_ca_requires_client_certificates) {
  const std::string ca = (dir_.path() / "ca.pem").string();
  write_file(ca, two_.certificate);
  auto loaded = load_server_context({cert(), key(), ca}, "http/1.1");
  ASSERT_TRUE(std::holds_alternative<std::shared_ptr<boost::asio::ssl::context>>(loaded));
  auto* native = std::get<std::shared_ptr<boost::asio::ssl::context>>(loaded)->native_handle();
  EXPECT_EQ(SSL_CTX_get_verify_mode(native), SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT);
  ASSERT_NE(SSL_CTX_get_client_CA_list(native), nullptr);
  EXPECT_EQ(sk_X509_NAME_num(SSL_CTX_get_client_CA_list(native)), 1);
}

TEST_F(tls_files_test, a_failed_reload_keeps_the_serving_context) {
  auto loaded = tls_credentials::load(files(), "http/1.1");
  ASSERT_TRUE(std::holds_alternative<std::unique_ptr<tls_credentials>>(loaded));
  auto& credentials = *std::get<std::unique_ptr<tls_credentials>>(loaded);
  const auto before = credentials.current();

  write_file(key(), two_.key);  // the certificate is still one's
  const auto failure = credentials.reload();
  ASSERT_TRUE(failure);
  EXPECT_NE(failure->message.find("does not match the certificate"), std::string::npos) << failure->message;
  EXPECT_EQ(credentials.current(), before);
  EXPECT_EQ(credentials.reload_failures(), 1u);
  EXPECT_EQ(credentials.reloads(), 0u);

  write_file(cert(), two_.certificate);
  ASSERT_FALSE(credentials.reload());
  const auto after = credentials.current();
  EXPECT_NE(after, before);
  EXPECT_EQ(served_name(*after), "two");
  EXPECT_EQ(served_name(*before), "one");  // a connection holding the old context keeps it
  EXPECT_EQ(credentials.reloads(), 1u);
}

}  // namespace
}  // namespace surge::tls
