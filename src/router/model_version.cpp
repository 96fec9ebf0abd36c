#include "router/model_version.hpp"

#include "backend_loader/backend_model.hpp"
#include "config/model_config.hpp"

namespace surge {

namespace {

std::string shape_string(const std::vector<std::int64_t>& shape) {
  std::string out = "[";
  for (std::size_t i = 0; i < shape.size(); ++i) {
    if (i) out += ",";
    out += std::to_string(shape[i]);
  }
  return out + "]";
}

template <typename Dims>
std::string dims_string(const Dims& dims) {
  return shape_string(std::vector<std::int64_t>(dims.begin(), dims.end()));
}

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

namespace {

queue_policy queue_policy_from(const config::ModelQueuePolicy& policy) {
  queue_policy out;
  out.max_queue_size = policy.max_queue_size();
  if (policy.default_timeout_microseconds() > 0) {
    out.default_timeout = std::chrono::microseconds(policy.default_timeout_microseconds());
  }
  // Without a default timeout a request's own timeout always applies, as in Triton.
  out.allow_timeout_override = policy.allow_timeout_override() || !out.default_timeout;
  out.reject_expired = policy.timeout_action() == config::ModelQueuePolicy::REJECT;
  return out;
}

}  // namespace

batcher_options batcher_options_from(const config::ModelConfig& config) {
  batcher_options options;
  options.max_batch_size = static_cast<std::uint32_t>(std::max(0, config.max_batch_size()));
  if (config.has_dynamic_batching()) {
    const auto& db = config.dynamic_batching();
    for (auto size : db.preferred_batch_size()) options.preferred_batch_sizes.push_back(static_cast<std::uint32_t>(size));
    options.max_queue_delay = std::chrono::microseconds(db.max_queue_delay_microseconds());
    if (db.priority_levels() > 0) {
      options.priority_levels = static_cast<std::uint32_t>(db.priority_levels());
      options.default_priority_level =
          db.default_priority_level() > 0 ? static_cast<std::uint32_t>(db.default_priority_level()) : options.priority_levels;
    }
    options.default_queue_policy = queue_policy_from(db.default_queue_policy());
    for (const auto& [level, policy] : db.priority_queue_policy()) {
      options.level_queue_policies[static_cast<std::uint32_t>(level)] = queue_policy_from(policy);
    }
  } else {
    // Without dynamic batching each request runs alone, as in Triton.
    options.max_batch_size = 0;
  }
  return options;
}

std::optional<error> validate_request(const config::ModelConfig& config, const inference_request& request) {
  const bool batching = config.max_batch_size() > 0;
  const auto invalid = [](std::string message) { return make_error(error_code::invalid_argument, std::move(message)); };
  std::optional<std::int64_t> batch_rows;

  for (std::size_t i = 0; i < request.inputs.size(); ++i) {
    const auto& input = request.inputs[i];
    for (std::size_t j = 0; j < i; ++j) {
      if (request.inputs[j].name == input.name) return invalid("input '" + input.name + "' is given twice");
    }
    const config::ModelInput* spec = nullptr;
    for (const auto& candidate : config.input()) {
      if (candidate.name() == input.name) spec = &candidate;
    }
    if (!spec) return invalid("unknown input '" + input.name + "' for model '" + config.name() + "'");

    const auto expected_type = to_data_type(spec->data_type());
    if (input.type != expected_type) {
      return invalid("input '" + input.name + "': datatype " + std::string(kserve_name(input.type)) +
                     " does not match the model's " + std::string(kserve_name(expected_type)));
    }

    const auto& dims = spec->dims();
    const std::size_t offset = batching ? 1 : 0;
    const auto expected = (batching ? "[-1," + dims_string(dims).substr(1) : dims_string(dims));
    bool shape_ok = input.shape.size() == static_cast<std::size_t>(dims.size()) + offset;
    for (std::size_t d = 0; shape_ok && d < static_cast<std::size_t>(dims.size()); ++d) {
      if (dims[static_cast<int>(d)] != -1 && dims[static_cast<int>(d)] != input.shape[d + offset]) shape_ok = false;
    }
    if (!shape_ok) {
      return invalid("input '" + input.name + "': shape " + shape_string(input.shape) +
                     " does not match the model's " + (dims.empty() && batching ? std::string("[-1]") : expected));
    }
    if (batching) {
      const auto rows = input.shape[0];
      if (rows < 1 || rows > config.max_batch_size()) {
        return invalid("input '" + input.name + "': batch size " + std::to_string(rows) + " is outside 1.." +
                       std::to_string(config.max_batch_size()) + " (max_batch_size)");
      }
      if (batch_rows && *batch_rows != rows) {
        return invalid("input '" + input.name + "': batch size " + std::to_string(rows) +
                       " differs from the other inputs' " + std::to_string(*batch_rows));
      }
      batch_rows = rows;
    }
  }

  for (const auto& spec : config.input()) {
    if (spec.optional()) continue;
    bool present = false;
    for (const auto& input : request.inputs) present = present || input.name == spec.name();
    if (!present) return invalid("missing input '" + spec.name() + "' for model '" + config.name() + "'");
  }

  for (const auto& name : request.requested_outputs) {
    bool known = false;
    for (const auto& spec : config.output()) known = known || spec.name() == name;
    if (!known) return invalid("unknown output '" + name + "' for model '" + config.name() + "'");
  }
  return std::nullopt;
}

void apply_reshape(const config::ModelConfig& config, inference_request& request) {
  for (auto& input : request.inputs) {
    for (const auto& spec : config.input()) {
      if (spec.name() != input.name || !spec.has_reshape()) continue;
      std::vector<std::int64_t> shape;
      if (config.max_batch_size() > 0) shape.push_back(input.shape[0]);
      shape.insert(shape.end(), spec.reshape().shape().begin(), spec.reshape().shape().end());
      input.shape = std::move(shape);
    }
  }
}

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
