#include "router/model_version.hpp"

#include "backend_loader/backend_model.hpp"
#include "config/model_config.hpp"
#include "model/batcher_config.hpp"
#include "model/request_checks.hpp"

namespace surge {

namespace {

// Wraps the frontend's sink to record how the request ended. Exactly one
// wrapper per admitted request, so these numbers count requests, not batches.
class metered_sink final : public response_sink {
 public:
  metered_sink(std::shared_ptr<response_sink> inner, model_metrics& metrics, model_statistics& statistics,
               clock::time_point arrival)
      : inner_(std::move(inner)), metrics_(metrics), statistics_(statistics), arrival_(arrival) {
    metrics_.inflight.add(1);
  }

  void send(inference_response response) override { inner_->send(std::move(response)); }

  void finish(std::optional<error> failure) override {
    const auto elapsed = clock::now() - arrival_;
    metrics_.count(outcome_of(failure));
    metrics_.request_duration.observe(std::chrono::duration<double>(elapsed).count());
    metrics_.inflight.add(-1);
    const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(elapsed);
    if (failure) statistics_.fail.add(ns);
    else statistics_.success.add(ns);
    inner_->finish(std::move(failure));
  }

 private:
  std::shared_ptr<response_sink> inner_;
  model_metrics& metrics_;
  model_statistics& statistics_;
  clock::time_point arrival_;
};

}  // namespace

model_version::model_version(config::ModelConfig config, std::int64_t version, metrics::registry& registry)
    : config_(std::move(config)),
      version_(version),
      scheduler_options_(batcher_options_from(config_)),
      metrics_(registry, config_.name(), version),
      generation_metrics_(config_.has_generation()
                              ? std::make_unique<generation_metrics>(registry, config_.name(), version)
                              : nullptr),
      statistics_(static_cast<std::size_t>(std::max(1, config_.max_batch_size()))) {}

model_version::~model_version() { stop(); }

void model_version::start(std::shared_ptr<request_scheduler> scheduler, std::shared_ptr<backend_model> backend) {
  scheduler_ = std::move(scheduler);
  backend_ = std::move(backend);
  ready_.store(true, std::memory_order_release);
}

void model_version::stop() {
  if (!ready_.exchange(false)) return;
  scheduler_->stop();
}

void model_version::submit(request_ptr request) {
  request->sink = std::make_shared<metered_sink>(std::move(request->sink), metrics_, statistics_, request->arrival);
  if (!ready()) {
    request->sink->finish(make_error(error_code::not_ready, "model '" + name() + "' is not ready"));
    return;
  }
  if (generative() && request->generation) {
    // The sequence scheduler checks the prompt and sampling parameters.
    scheduler_->schedule(std::move(request));
    return;
  }
  if (auto invalid = validate_request(config_, *request)) {
    request->sink->finish(std::move(invalid));
    return;
  }
  if (generative()) {
    scheduler_->schedule(std::move(request));
    return;
  }
  // A remote worker reshapes for its own backend; sent reshaped, its
  // validation against the config's dims would fail.
  if (backend_) apply_reshape(config_, *request);
  // An out-of-range priority is refused by the queue; its policy lookup falls back to the default.
  const auto& policy = scheduler_options_.policy_for_level(scheduler_options_.level_of(request->priority));
  std::optional<std::chrono::microseconds> timeout = policy.default_timeout;
  if (request->timeout && request->timeout->count() > 0 && policy.allow_timeout_override) timeout = request->timeout;
  if (timeout) request->deadline = request->arrival + *timeout;
  scheduler_->schedule(std::move(request));
}

}  // namespace surge
