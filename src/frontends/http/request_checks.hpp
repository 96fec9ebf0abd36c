#pragma once

#include <boost/beast/http/message.hpp>
#include <optional>

#include "frontends/http/http_server.hpp"

namespace surge::http {

using request_header = beast::http::request_header<>;

// The answer to a request that its headers alone refuse, before any body is
// read: a method HTTP does not define (501), HTTP/1.1 without Host (400), an
// Expect other than 100-continue (417). Nothing when the request may go on.
std::optional<response_message> refuse_by_header(const request_header& header);

// True when the client waits for "100 Continue" before it sends its body.
bool expects_continue(const request_header& header);

// The 405 for a path that exists but not for this method; `allow` lists the
// methods it takes, as in the Allow header ("GET, HEAD").
response_message method_not_allowed(const request_header& header, std::string_view allow);

}  // namespace surge::http
