#include "frontends/tls/tls_context.hpp"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <memory>

namespace surge::tls {

namespace ssl = boost::asio::ssl;

namespace {

// OpenSSL's queued errors, oldest first, joined; the queue is left empty.
std::string openssl_errors() {
  std::string text;
  while (const unsigned long code = ERR_get_error()) {
    char buffer[256];
    ERR_error_string_n(code, buffer, sizeof buffer);
    if (!text.empty()) text += "; ";
    text += buffer;
  }
  return text.empty() ? "no detail from OpenSSL" : text;
}

error file_error(std::string_view flag, const std::string& path, std::string_view what) {
  return make_error(error_code::invalid_argument, std::string(flag) + " '" + path + "': " + std::string(what));
}

// Opening first gives "No such file or directory" or "Permission denied"
// instead of OpenSSL's less telling "system library" errors.
std::optional<error> check_readable(std::string_view flag, const std::string& path) {
  std::ifstream file(path);
  if (!file) return file_error(flag, path, std::string("cannot read: ") + std::strerror(errno));
  return std::nullopt;
}

// ALPN: the listener's one protocol when the client offers it; otherwise the
// handshake goes on without ALPN and the protocol itself decides.
int select_protocol(SSL*, const unsigned char** out, unsigned char* out_length, const unsigned char* offered,
                    unsigned int offered_length, void* arg) {
  const auto* wanted = static_cast<const std::string*>(arg);  // length-prefixed, as on the wire
  unsigned char* selected = nullptr;
  if (SSL_select_next_proto(&selected, out_length, reinterpret_cast<const unsigned char*>(wanted->data()),
                            static_cast<unsigned>(wanted->size()), offered,
                            offered_length) != OPENSSL_NPN_NEGOTIATED) {
    return SSL_TLSEXT_ERR_NOACK;
  }
  *out = selected;
  return SSL_TLSEXT_ERR_OK;
}

}  // namespace

std::optional<error> check_flags(const tls_files& files) {
  if (files.cert_file.empty()) {
    if (!files.key_file.empty()) return make_error(error_code::invalid_argument, "--tls-key-file needs --tls-cert-file");
    if (!files.client_ca_file.empty()) {
      return make_error(error_code::invalid_argument, "--tls-client-ca-file needs --tls-cert-file");
    }
    return std::nullopt;
  }
  if (files.key_file.empty()) return make_error(error_code::invalid_argument, "--tls-cert-file needs --tls-key-file");
  return std::nullopt;
}

std::variant<std::shared_ptr<ssl::context>, error> load_server_context(const tls_files& files, std::string_view alpn) {
  if (auto failure = check_flags(files)) return std::move(*failure);
  ERR_clear_error();
  auto context = std::make_shared<ssl::context>(ssl::context::tls_server);
  SSL_CTX* native = context->native_handle();
  SSL_CTX_set_min_proto_version(native, TLS1_2_VERSION);
  SSL_CTX_set_options(native, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);

  if (auto failure = check_readable("--tls-cert-file", files.cert_file)) return std::move(*failure);
  if (SSL_CTX_use_certificate_chain_file(native, files.cert_file.c_str()) != 1) {
    return file_error("--tls-cert-file", files.cert_file, "not a PEM certificate chain: " + openssl_errors());
  }
  if (auto failure = check_readable("--tls-key-file", files.key_file)) return std::move(*failure);
  // Parsed apart from installing it, which also checks it against the
  // certificate, so that the two failures read differently.
  std::unique_ptr<BIO, decltype(&BIO_free)> key_bio(BIO_new_file(files.key_file.c_str(), "r"), BIO_free);
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key(
      key_bio ? PEM_read_bio_PrivateKey(key_bio.get(), nullptr, nullptr, nullptr) : nullptr, EVP_PKEY_free);
  if (!key) return file_error("--tls-key-file", files.key_file, "not a PEM private key: " + openssl_errors());
  if (SSL_CTX_use_PrivateKey(native, key.get()) != 1 || SSL_CTX_check_private_key(native) != 1) {
    ERR_clear_error();
    return file_error("--tls-key-file", files.key_file,
                      "does not match the certificate of --tls-cert-file '" + files.cert_file + "'");
  }

  if (!files.client_ca_file.empty()) {
    if (auto failure = check_readable("--tls-client-ca-file", files.client_ca_file)) return std::move(*failure);
    if (SSL_CTX_load_verify_locations(native, files.client_ca_file.c_str(), nullptr) != 1) {
      return file_error("--tls-client-ca-file", files.client_ca_file,
                        "not a PEM CA certificate: " + openssl_errors());
    }
    // The CA names the server sends in its certificate request.
    STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(files.client_ca_file.c_str());
    if (!names) {
      return file_error("--tls-client-ca-file", files.client_ca_file, "no CA certificate in it: " + openssl_errors());
    }
    SSL_CTX_set_client_CA_list(native, names);
    SSL_CTX_set_verify(native, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
  }

  // The protocol lives as long as the context: a static string per name.
  static const std::string h2 = std::string("\x02h2", 3);
  static const std::string http1 = std::string("\x08http/1.1", 9);
  const std::string* wanted = alpn == "h2" ? &h2 : alpn == "http/1.1" ? &http1 : nullptr;
  if (wanted) SSL_CTX_set_alpn_select_cb(native, select_protocol, const_cast<std::string*>(wanted));
  return context;
}

}  // namespace surge::tls
