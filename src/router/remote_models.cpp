// Loading a model whose batches run outside this process: a worker pool
// reached through Redis Streams, or an upstream HTTP API. The scheduler is
// the same; only the instances differ, and no backend is loaded here.
#include "router/model_registry.hpp"

namespace surge {

std::optional<std::string> model_registry::load_remote_version(model_state& state, std::int64_t version) {
  const auto& config = *state.config;
  const char* kind = config.has_worker_pool() ? "worker_pool" : "upstream";
  if (!remote_factory_) return std::string(kind) + " models are not supported by this server";
  auto loaded = std::make_shared<model_version>(config, version, metrics_);
  auto made = remote_factory_(config, *loaded);
  if (auto* failure = std::get_if<error>(&made)) return std::string(kind) + ": " + failure->message;
  auto instances = std::get<std::vector<std::unique_ptr<instance>>>(std::move(made));
  auto scheduler = std::make_shared<model_scheduler>(io_, loaded->options(), std::move(instances), loaded->metrics(),
                                                     loaded->statistics());
  loaded->start(std::move(scheduler), nullptr);
  state.versions.emplace(version, std::move(loaded));
  return std::nullopt;
}

}  // namespace surge
