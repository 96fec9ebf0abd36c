#include "frontends/http/metrics_handler.hpp"

#include "frontends/http/request_checks.hpp"

namespace surge::http {

asio::awaitable<handler_result> metrics_handler::handle(request_message& request,
                                                                        connection_stream&) {
  namespace http = beast::http;
  const auto target = request.target();
  if (target != "/metrics" && !target.starts_with("/metrics?")) {
    co_return error_response(http::status::not_found, "metrics are served at /metrics", request.version(), true);
  }
  if (request.method() != http::verb::get && request.method() != http::verb::head) {
    co_return method_not_allowed(request, "GET, HEAD");
  }
  response_message response{http::status::ok, request.version()};
  response.set(http::field::server, "surge");
  response.set(http::field::content_type, "text/plain; version=0.0.4; charset=utf-8");
  response.keep_alive(true);
  response.body() = registry_.render();
  response.prepare_payload();
  co_return response;
}

}  // namespace surge::http
