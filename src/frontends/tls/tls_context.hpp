#pragma once

#include <boost/asio/ssl/context.hpp>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "core/status.hpp"

namespace surge::tls {

// The PEM files of a TLS listener (docs/configuration.md, "TLS"). No
// certificate: the listener is plain TCP.
struct tls_files {
  std::string cert_file;       // --tls-cert-file: the server certificate, then its chain
  std::string key_file;        // --tls-key-file: the certificate's private key
  std::string client_ca_file;  // --tls-client-ca-file: set: clients must present a certificate signed by it

  bool enabled() const { return !cert_file.empty(); }
};

// The files given, checked together: a key or a client CA without a
// certificate, or a certificate without a key, is an error naming the flags.
std::optional<error> check_flags(const tls_files& files);

// A server context from `files`: TLS 1.2 or newer, the certificate chain, its
// key (which must match the certificate), and with a client CA, peer
// verification that refuses a client without a certificate. `alpn` is the one
// protocol this listener speaks ("h2" for gRPC, "http/1.1" for HTTP); it is
// selected when the client offers it. Reads the files: call it off the I/O
// threads. Errors name the flag and the file.
std::variant<std::shared_ptr<boost::asio::ssl::context>, error> load_server_context(const tls_files& files,
                                                                                     std::string_view alpn);

}  // namespace surge::tls
