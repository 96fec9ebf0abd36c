#include "fetch/fetch_error.hpp"

namespace surge::fetch {

std::string_view to_string(fetch_errc code) {
  switch (code) {
    case fetch_errc::invalid_url: return "invalid_url";
    case fetch_errc::unsupported_scheme: return "unsupported_scheme";
    case fetch_errc::dns_failure: return "dns_failure";
    case fetch_errc::refused_address: return "refused_address";
    case fetch_errc::connect_failed: return "connect_failed";
    case fetch_errc::connect_timeout: return "connect_timeout";
    case fetch_errc::total_timeout: return "total_timeout";
    case fetch_errc::http_status: return "http_status";
    case fetch_errc::too_large: return "too_large";
    case fetch_errc::too_many_redirects: return "too_many_redirects";
    case fetch_errc::tls_failure: return "tls_failure";
    case fetch_errc::transfer_failed: return "transfer_failed";
  }
  return "unknown";
}

}  // namespace surge::fetch
