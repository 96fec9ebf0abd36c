#pragma once

#include <string>
#include <string_view>
#include <variant>

namespace surge::fetch {

// Why a URL was not fetched. Each value names one failure a caller may want to
// answer differently (docs/fetch.md has the table).
enum class fetch_errc {
  invalid_url,         // not an absolute http(s) URL this client accepts
  unsupported_scheme,  // a scheme other than http or https
  dns_failure,         // the host name did not resolve
  refused_address,     // every address of the host is one the policy refuses
  connect_failed,      // no address accepted the connection
  connect_timeout,     // connecting took longer than connect_timeout
  total_timeout,       // the whole fetch took longer than total_timeout
  http_status,         // the server answered a status other than 2xx (status is set)
  too_large,           // the body is, or would be, larger than max_body_bytes
  too_many_redirects,  // more than max_redirects redirects
  tls_failure,         // TLS handshake or certificate verification failed
  transfer_failed,     // the connection broke, or the answer was not valid HTTP
};

std::string_view to_string(fetch_errc code);

struct fetch_error {
  fetch_errc code;
  std::string message;  // names the URL or host and what went wrong
  unsigned status{0};   // the HTTP status, with http_status
};

struct fetched_body {
  std::string body;
  std::string content_type;  // the Content-Type header, empty when absent
  std::string url;           // the URL the body came from, after redirects
};

using fetch_result = std::variant<fetched_body, fetch_error>;

}  // namespace surge::fetch
