#pragma once

#include <string>
#include <utility>
#include <vector>

#include "frontends/http/http_server.hpp"

namespace surge::http {

// Sends each request to the first handler whose path prefix matches its
// target, so several protocols (KServe v2, the OpenAI API) share one port.
class prefix_router final : public request_handler {
 public:
  explicit prefix_router(request_handler& fallback) : fallback_(fallback) {}
  void add(std::string prefix, request_handler& handler) { routes_.emplace_back(std::move(prefix), &handler); }

  header_verdict screen(const request_header& header) override { return route(header.target()).screen(header); }

  asio::awaitable<handler_result> handle(request_message& request, connection_stream& stream) override {
    co_return co_await route(request.target()).handle(request, stream);
  }

 private:
  request_handler& route(std::string_view target) {
    for (auto& [prefix, handler] : routes_) {
      if (target.starts_with(prefix)) return *handler;
    }
    return fallback_;
  }

  request_handler& fallback_;
  std::vector<std::pair<std::string, request_handler*>> routes_;
};

}  // namespace surge::http
