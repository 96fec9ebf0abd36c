#pragma once

#include "frontends/http/http_server.hpp"
#include "metrics/registry.hpp"

namespace surge::http {

// Serves GET /metrics in the Prometheus text format on its own port.
class metrics_handler final : public request_handler {
 public:
  explicit metrics_handler(const metrics::registry& registry) : registry_(registry) {}

  asio::awaitable<handler_result> handle(request_message& request,
                                                          connection_stream& stream) override;

 private:
  const metrics::registry& registry_;
};

}  // namespace surge::http
