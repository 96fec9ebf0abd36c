#include "router/model_version.hpp"

#include "backend_loader/backend_model.hpp"
#include "config/model_config.hpp"
#include "model/batcher_config.hpp"
#include "model/classification.hpp"
#include "model/request_checks.hpp"

namespace surge {

namespace {

// Wraps the frontend's sink to record how the request ended. Exactly one
// wrapper per admitted request, so these numbers count requests, not batches.
// It holds the version, so a version is never freed under a request.
class metered_sink final : public response_sink {
 public:
  metered_sink(std::shared_ptr<response_sink> inner, std::shared_ptr<model_version> version,
               clock::time_point arrival)
      : inner_(std::move(inner)), version_(std::move(version)), arrival_(arrival) {
    version_->metrics().inflight.add(1);
  }

  void send(inference_response response) override { inner_->send(std::move(response)); }

  void finish(std::optional<error> failure) override {
    const auto elapsed = clock::now() - arrival_;
    auto& metrics = version_->metrics();
    auto& statistics = version_->statistics();
    metrics.count(outcome_of(failure));
    metrics.request_duration.observe(std::chrono::duration<double>(elapsed).count());
    metrics.inflight.add(-1);
    const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(elapsed);
    if (failure) statistics.fail.add(ns);
    else statistics.success.add(ns);
    inner_->finish(std::move(failure));
  }

 private:
  std::shared_ptr<response_sink> inner_;
  std::shared_ptr<model_version> version_;
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

model_version::~model_version() {
  {
    std::lock_guard lock(lifecycle_mutex_);
    if (released_) return;
  }
  stop();
}

void model_version::start(std::shared_ptr<request_scheduler> scheduler, std::shared_ptr<backend_model> backend) {
  scheduler_ = std::move(scheduler);
  backend_ = std::move(backend);
  reshape_here_ = backend_ != nullptr;
  ready_.store(true, std::memory_order_release);
}

void model_version::drain(clock::time_point deadline, std::function<void()> drained) {
  ready_.store(false, std::memory_order_release);
  if (draining_.exchange(true) || !scheduler_) {
    drained();
    return;
  }
  scheduler_->drain(deadline, std::move(drained));
}

void model_version::retire() {
  std::lock_guard lock(lifecycle_mutex_);
  if (released_) return;
  if (scheduler_) scheduler_->join();
  release();
}

void model_version::stop() {
  ready_.store(false, std::memory_order_release);
  draining_.store(true);
  std::lock_guard lock(lifecycle_mutex_);
  if (released_) return;
  if (scheduler_) scheduler_->stop();
  release();
}

void model_version::release() {
  released_ = true;
  // The instances that used the backend are gone; the library unloads with
  // its last model.
  backend_.reset();
  metrics_.remove();
  if (generation_metrics_) generation_metrics_->remove();
}

void model_version::submit(request_ptr request) {
  request->sink = std::make_shared<metered_sink>(std::move(request->sink), shared_from_this(), request->arrival);
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
  if (!request->classifications.empty()) {
    if (auto invalid = validate_classifications(config_, *request)) {
      request->sink->finish(std::move(invalid));
      return;
    }
    // The model answers its tensors; the client gets the classes.
    request->sink = classifying_sink(std::move(request->sink), std::move(request->classifications),
                                     config_.max_batch_size() > 0, labels_);
    request->classifications.clear();
  }
  if (generative()) {
    scheduler_->schedule(std::move(request));
    return;
  }
  // A remote worker reshapes for its own backend; sent reshaped, its
  // validation against the config's dims would fail.
  if (reshape_here_) apply_reshape(config_, *request);
  // An out-of-range priority is refused by the queue; its policy lookup falls back to the default.
  const auto& policy = scheduler_options_.policy_for_level(scheduler_options_.level_of(request->priority));
  std::optional<std::chrono::microseconds> timeout = policy.default_timeout;
  if (request->timeout && request->timeout->count() > 0 && policy.allow_timeout_override) timeout = request->timeout;
  if (timeout) request->deadline = request->arrival + *timeout;
  scheduler_->schedule(std::move(request));
}

}  // namespace surge
