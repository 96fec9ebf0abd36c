#include "frontends/http/request_checks.hpp"

#include <boost/beast/core/string.hpp>
#include <string>

namespace surge::http {

namespace http = beast::http;

namespace {

// The methods of RFC 9110 and PATCH. Beast also parses WebDAV's and a few
// others; to this server those are as unknown as BREW.
bool is_http_method(http::verb method) {
  switch (method) {
    case http::verb::get:
    case http::verb::head:
    case http::verb::post:
    case http::verb::put:
    case http::verb::delete_:
    case http::verb::options:
    case http::verb::patch:
    case http::verb::trace:
    case http::verb::connect:
      return true;
    default:
      return false;
  }
}

}  // namespace

std::optional<response_message> refuse_by_header(const request_header& header) {
  const unsigned version = header.version();
  if (!is_http_method(header.method())) {
    return error_response(http::status::not_implemented,
                          "method " + std::string(header.method_string()) + " is not implemented", version, false);
  }
  if (version >= 11 && header.find(http::field::host) == header.end()) {
    return error_response(http::status::bad_request, "HTTP/1.1 request without a Host header", version, false);
  }
  if (version >= 11) {
    if (auto expect = header.find(http::field::expect); expect != header.end() &&
                                                          !beast::iequals(expect->value(), "100-continue")) {
      return error_response(http::status::expectation_failed,
                            "expectation '" + std::string(expect->value()) + "' is not supported", version, false);
    }
  }
  return std::nullopt;
}

bool expects_continue(const request_header& header) {
  if (header.version() < 11) return false;  // HTTP/1.0 clients do not wait for it
  auto expect = header.find(http::field::expect);
  return expect != header.end() && beast::iequals(expect->value(), "100-continue");
}

response_message method_not_allowed(const request_header& header, std::string_view allow) {
  auto response = error_response(http::status::method_not_allowed,
                                 std::string(header.method_string()) + " is not allowed on " +
                                     std::string(header.target()) + "; use " + std::string(allow),
                                 header.version(), true);
  response.set(http::field::allow, allow);
  return response;
}

}  // namespace surge::http
