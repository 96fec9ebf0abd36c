#pragma once

#include "frontends/http/http_server.hpp"
#include "frontends/http/repository_control.hpp"
#include "frontends/http/traffic_routes.hpp"
#include "router/model_registry.hpp"
#include "shared_memory/system_shared_memory.hpp"

namespace surge::http {

// KServe v2 REST (Open Inference Protocol) with Triton's binary tensor data,
// statistics, model configuration and repository index extensions.
class kserve_handler final : public request_handler {
 public:
  // `shared_memory` (the server's registered regions) outlives the handler.
  kserve_handler(model_registry& models, system_shared_memory& shared_memory)
      : models_(models), shared_memory_(shared_memory) {}

  asio::awaitable<handler_result> handle(request_message& request, connection_stream& stream) override;

  // Flips /v2/health/ready; false before models load and while draining.
  void set_ready(bool ready) { ready_.store(ready); }
  // --model-control-mode explicit: serves load and unload. Before serving.
  void enable_repository_control(repository_control control) { control_.emplace(std::move(control)); }

 private:
  asio::awaitable<std::optional<response_message>> infer(request_message& request, connection_stream& stream,
                                                         std::shared_ptr<model_version> model);

  model_registry& models_;
  system_shared_memory& shared_memory_;
  std::optional<repository_control> control_;
  std::atomic<bool> ready_{false};
};

}  // namespace surge::http
