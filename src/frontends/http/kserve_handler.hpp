#pragma once

#include "frontends/http/http_server.hpp"
#include "frontends/http/repository_control.hpp"
#include "router/model_registry.hpp"

namespace surge::http {

// KServe v2 REST (Open Inference Protocol) with Triton's binary tensor data,
// statistics, model configuration and repository index extensions.
class kserve_handler final : public request_handler {
 public:
  explicit kserve_handler(const model_registry& models) : models_(models) {}

  asio::awaitable<handler_result> handle(request_message& request, connection_stream& stream) override;

  // Flips /v2/health/ready; false before models load and while draining.
  void set_ready(bool ready) { ready_.store(ready); }
  // --model-control-mode explicit: serves load and unload. Before serving.
  void enable_repository_control(repository_control control) { control_.emplace(std::move(control)); }

 private:
  asio::awaitable<std::optional<response_message>> infer(request_message& request, connection_stream& stream,
                                                         std::shared_ptr<model_version> model);

  const model_registry& models_;
  std::optional<repository_control> control_;
  std::atomic<bool> ready_{false};
};

}  // namespace surge::http
