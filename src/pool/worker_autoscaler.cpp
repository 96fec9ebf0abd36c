#include "pool/worker_autoscaler.hpp"

#include <boost/asio/post.hpp>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <future>
#include <iostream>

#include "autoscale/sizing.hpp"
#include "model/backend_spec.hpp"

namespace surge::pool {

namespace asio = boost::asio;

namespace {

template <typename T>
T or_default(T value, T fallback) {
  return value == T{} ? fallback : value;
}

// Values the policy used, read by the metrics collectors.
struct exported_inputs {
  std::atomic<double> arrival_rate{0};
  std::atomic<double> batch_service_s{0};
  std::atomic<double> p99_latency_s{0};
  std::atomic<double> predicted_queue_wait_s{0};
  std::atomic<double> needed_replicas{0};
  std::atomic<double> replica_capacity{0};
};

}  // namespace

autoscale::autoscaling_options autoscaling_options_of(const config::ModelConfig& config) {
  const auto& scaling = config.autoscaling();
  autoscale::autoscaling_options options;
  options.min_replicas = std::max<std::uint32_t>(scaling.min_replicas(), 1);
  options.max_replicas = std::max(scaling.max_replicas(), options.min_replicas);
  options.target_latency = std::chrono::milliseconds(or_default<std::uint32_t>(scaling.target_latency_ms(), 100));
  options.target_utilisation = or_default<float>(scaling.target_utilisation(), 0.7f);
  options.tolerance = or_default<float>(scaling.tolerance(), 0.1f);
  options.cold_start = std::chrono::milliseconds(or_default<std::uint32_t>(scaling.cold_start_ms(), 10000));
  options.scale_down_stabilization =
      std::chrono::seconds(or_default<std::uint32_t>(scaling.scale_down_stabilization_s(), 300));
  options.scale_up_cooldown = std::chrono::seconds(scaling.scale_up_cooldown_s());
  options.scale_down_cooldown = std::chrono::seconds(or_default<std::uint32_t>(scaling.scale_down_cooldown_s(), 60));
  options.instances_per_replica = instance_count(config);
  return options;
}

std::chrono::milliseconds evaluation_interval_of(const config::ModelAutoscaling& scaling) {
  return std::chrono::milliseconds(or_default<std::uint32_t>(scaling.evaluation_interval_ms(), 15000));
}

struct worker_autoscaler::scaled {
  scaled(autoscaled_model m, asio::strand<asio::any_io_executor>& strand, metrics::registry& registry)
      : model(std::move(m)),
        policy(model.options),
        timer(strand),
        desired(registry.make_gauge("surge_autoscaler_desired_replicas",
                                    "Workers the autoscaler wants for a worker-pool model, warming ones included",
                                    {{"model", model.name}})),
        warming(registry.make_gauge("surge_autoscaler_warming_replicas",
                                    "Local workers started that do not heartbeat yet (coming, not capacity)",
                                    {{"model", model.name}})),
        backlog(registry.make_gauge("surge_autoscaler_backlog",
                                    "Requests waiting for a worker, as the autoscaler measured them",
                                    {{"model", model.name}})),
        scale_ups(registry.make_counter("surge_autoscaler_scale_events_total",
                                        "Changes of a model's worker count by the autoscaler",
                                        {{"model", model.name}, {"direction", "up"}})),
        scale_downs(registry.make_counter("surge_autoscaler_scale_events_total",
                                          "Changes of a model's worker count by the autoscaler",
                                          {{"model", model.name}, {"direction", "down"}})),
        inputs(std::make_shared<exported_inputs>()) {
    const auto collect = [&registry, this](const char* name, const char* help, std::atomic<double> exported_inputs::*value) {
      collectors.push_back(registry.add_gauge_collector(
          name, help, [inputs = inputs, value, model_name = model.name](metrics::sample_list& out) {
            out.push_back({{{"model", model_name}}, ((*inputs).*value).load(std::memory_order_relaxed)});
          }));
    };
    collect("surge_autoscaler_arrival_rate", "Requests per second the autoscaler measured over its last interval",
            &exported_inputs::arrival_rate);
    collect("surge_autoscaler_batch_service_seconds", "Mean time per batch the autoscaler measured",
            &exported_inputs::batch_service_s);
    collect("surge_autoscaler_p99_latency_seconds", "p99 request latency over the autoscaler's last interval",
            &exported_inputs::p99_latency_s);
    collect("surge_autoscaler_predicted_queue_wait_seconds", "Backlog over the live workers' measured throughput",
            &exported_inputs::predicted_queue_wait_s);
    collect("surge_autoscaler_replica_capacity",
            "Requests per second one worker serves, as the autoscaler sizes with it (at full batches when measured)",
            &exported_inputs::replica_capacity);
    collect("surge_autoscaler_needed_replicas", "Workers the sizing computed before rounding, bounds and windows",
            &exported_inputs::needed_replicas);
  }

  autoscaled_model model;
  autoscale::replica_policy policy;
  asio::steady_timer timer;
  autoscale::load_reading last;  // read at start(), then at every evaluation
  std::vector<std::string> labels;  // this server's workers, oldest first
  std::uint32_t next_index{0};
  metrics::gauge& desired;
  metrics::gauge& warming;
  metrics::gauge& backlog;
  metrics::counter& scale_ups;
  metrics::counter& scale_downs;
  std::shared_ptr<exported_inputs> inputs;
  std::vector<std::shared_ptr<void>> collectors;
};

std::shared_ptr<worker_autoscaler> worker_autoscaler::create(asio::any_io_executor io, supervisor& workers,
                                                             metrics::registry& metrics, snapshot_source snapshot) {
  return std::shared_ptr<worker_autoscaler>(new worker_autoscaler(std::move(io), workers, metrics, std::move(snapshot)));
}

worker_autoscaler::worker_autoscaler(asio::any_io_executor io, supervisor& workers, metrics::registry& metrics,
                                     snapshot_source snapshot)
    : strand_(asio::make_strand(io)), workers_(workers), metrics_(metrics), snapshot_(std::move(snapshot)) {}

worker_autoscaler::~worker_autoscaler() = default;

void worker_autoscaler::add(autoscaled_model model) {
  auto entry = std::make_shared<scaled>(std::move(model), strand_, metrics_);
  const auto initial = std::clamp(entry->model.initial_replicas, entry->model.options.min_replicas,
                                  entry->model.options.max_replicas);
  for (std::uint32_t i = 0; i < initial; ++i) {
    const auto index = entry->next_index++;
    auto process = entry->model.make_worker(index);
    entry->labels.push_back(process.label);
    workers_.add(std::move(process));
  }
  entry->desired.set(initial);
  models_.push_back(std::move(entry));
}

void worker_autoscaler::start() {
  asio::post(strand_, [self = shared_from_this()] {
    for (const auto& model : self->models_) {
      model->last = self->read(*model);
      self->arm(model);
    }
  });
}

void worker_autoscaler::stop() {
  std::promise<void> done;
  asio::post(strand_, [self = shared_from_this(), &done] {
    self->stopped_ = true;
    for (const auto& model : self->models_) model->timer.cancel();
    done.set_value();
  });
  done.get_future().wait();
}

void worker_autoscaler::arm(const std::shared_ptr<scaled>& model) {
  model->timer.expires_after(model->model.interval);
  model->timer.async_wait([self = shared_from_this(), model](const boost::system::error_code& ec) {
    if (ec || self->stopped_) return;
    self->evaluate(*model);
    self->arm(model);
  });
}

autoscale::load_reading worker_autoscaler::read(const scaled& model) const {
  autoscale::load_reading reading;
  reading.at = autoscale::clock::now();
  const auto snapshot = snapshot_();
  const auto* registered = snapshot ? snapshot->find(model.model.name) : nullptr;
  if (!registered) return reading;
  for (const auto& [number, version] : registered->versions) {
    auto& m = version->metrics();
    for (const auto* outcome : m.outcomes) reading.requests += outcome->value();
    reading.batches += m.compute_duration.count();
    reading.batch_seconds += m.compute_duration.sum();
    reading.batch_rows += m.batch_size.sum();
    const auto& bounds = m.request_duration.upper_bounds();
    if (reading.latency_bounds.empty()) {
      reading.latency_bounds = bounds;
      reading.latency_counts.assign(bounds.size() + 1, 0);
    }
    if (bounds.size() + 1 == reading.latency_counts.size()) {
      for (std::size_t i = 0; i <= bounds.size(); ++i) reading.latency_counts[i] += m.request_duration.bucket_count(i);
    }
    reading.backlog += static_cast<std::uint64_t>(std::max<std::int64_t>(m.queue_depth.value(), 0));
    const auto& statistics = version->statistics();
    if (reading.by_rows.size() < statistics.max_rows + 1) reading.by_rows.resize(statistics.max_rows + 1);
    for (std::size_t rows = 1; rows <= statistics.max_rows; ++rows) {
      auto& point = reading.by_rows[rows];
      point.rows = static_cast<std::uint32_t>(rows);
      point.count += statistics.batch_compute_infer[rows].count.load(std::memory_order_relaxed);
      point.seconds += static_cast<double>(statistics.batch_compute_infer[rows].ns.load(std::memory_order_relaxed)) * 1e-9;
    }
  }
  return reading;
}

void worker_autoscaler::evaluate(scaled& model) {
  auto reading = read(model);
  const auto active = static_cast<std::uint32_t>(model.labels.size());
  const auto heartbeating = static_cast<std::uint32_t>(std::max<std::int64_t>(model.model.live_workers->value(), 0));
  // The workers scaled are this server's: one still heartbeating after it
  // was retired (its ZREM not seen yet) is not counted beside them.
  const auto live = std::min(heartbeating, active);
  const auto warming = active - live;
  // Requests in Redis beyond what the live workers are running wait too.
  const auto outstanding = static_cast<std::uint64_t>(std::max<std::int64_t>(model.model.outstanding->value(), 0));
  auto sample = autoscale::sample_between(model.last, reading, live, warming);
  const auto running = static_cast<std::uint64_t>(
      std::ceil(std::max(sample.mean_batch_size, 1.0)) * live * model.model.options.instances_per_replica);
  sample.backlog += outstanding > running ? outstanding - running : 0;
  // What a replica serves once its batches fill, when the batches measured
  // so far say so; else what this interval's batches did.
  if (const auto full = autoscale::full_batch_capacity(reading.by_rows, model.model.max_batch_size)) {
    const auto per_instance = [](double rows, std::chrono::microseconds service) {
      return autoscale::replica_throughput(1, rows, std::chrono::duration<double>(service).count());
    };
    if (per_instance(sample.mean_batch_size, sample.batch_service_time) < per_instance(full->rows, full->service)) {
      sample.mean_batch_size = full->rows;
      sample.batch_service_time = full->service;
    }
  }
  model.last = std::move(reading);

  const auto decision = model.policy.evaluate(sample);
  model.warming.set(warming);
  model.backlog.set(static_cast<std::int64_t>(sample.backlog));
  model.desired.set(decision.replicas);
  auto& inputs = *model.inputs;
  inputs.arrival_rate.store(sample.arrival_rate, std::memory_order_relaxed);
  if (sample.batch_service_time.count() > 0) {
    const double service_s = std::chrono::duration<double>(sample.batch_service_time).count();
    inputs.batch_service_s.store(service_s, std::memory_order_relaxed);
    inputs.replica_capacity.store(
        autoscale::replica_throughput(model.model.options.instances_per_replica, sample.mean_batch_size, service_s),
        std::memory_order_relaxed);
  }
  inputs.p99_latency_s.store(std::chrono::duration<double>(sample.p99_latency).count(), std::memory_order_relaxed);
  inputs.predicted_queue_wait_s.store(decision.predicted_queue_wait_s, std::memory_order_relaxed);
  inputs.needed_replicas.store(std::max(decision.load_replicas, decision.backlog_replicas), std::memory_order_relaxed);

  if (decision.replicas != active) {
    std::cout << "surge: autoscaler: " << model.model.name << " " << active << " -> " << decision.replicas
              << " workers (" << autoscale::name_of(decision.reason) << "; " << sample.arrival_rate
              << " req/s, backlog " << sample.backlog << ", live " << live << ", warming " << warming << ")"
              << std::endl;
    resize(model, decision.replicas);
  }
}

void worker_autoscaler::resize(scaled& model, std::uint32_t replicas) {
  if (replicas > model.labels.size()) model.scale_ups.increment();
  if (replicas < model.labels.size()) model.scale_downs.increment();
  while (model.labels.size() < replicas) {
    auto process = model.model.make_worker(model.next_index++);
    model.labels.push_back(process.label);
    workers_.launch(std::move(process));
  }
  // The newest first: a worker still warming is the cheapest to give up.
  while (model.labels.size() > replicas) {
    workers_.retire(model.labels.back());
    model.labels.pop_back();
  }
}

}  // namespace surge::pool
