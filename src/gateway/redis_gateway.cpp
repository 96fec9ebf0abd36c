#include "gateway/redis_gateway.hpp"

#include <unistd.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <charconv>
#include <exception>
#include <future>
#include <iostream>
#include <random>

#include "config/worker_pool_defaults.hpp"
#include "gateway/redis_pool_instance.hpp"
#include "redis/transaction.hpp"
#include "instance/batch_assembly.hpp"
#include "streams/keys.hpp"
#include "wire/kserve_request.hpp"
#include "wire/kserve_response.hpp"

namespace surge::gateway {

namespace {

using asio::as_tuple;
using asio::use_awaitable;

// How many batches one worker-pool model keeps in flight per instance of
// its instance_group: enough that the scheduler rarely holds requests
// back while workers are idle, few enough that priorities still order the
// queue when they are busy.
constexpr std::uint32_t batches_per_instance = 8;
// Replies taken from the reply stream per XREAD.
constexpr int replies_per_read = 512;
// The reply stream is trimmed of what was read at most this often.
constexpr std::chrono::milliseconds trim_interval{50};
// A measured worker count younger than this is trusted when refusing a
// request; an older one is measured again first.
constexpr std::chrono::milliseconds fresh_worker_count{20};

std::int64_t unix_ms_now() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string make_gateway_id() {
  char host[64] = {};
  if (::gethostname(host, sizeof host - 1) != 0) host[0] = '\0';
  std::random_device random;
  char suffix[9];
  const auto end = std::to_chars(suffix, suffix + sizeof suffix, random() & 0xffffffffu, 16).ptr;
  return std::string(host[0] ? host : "gateway") + "-" + std::to_string(::getpid()) + "-" +
         std::string(suffix, end);
}

}  // namespace

// One worker-pool model as the gateway sees it. Strand-only except for the
// constant fields.
class redis_gateway::model {
 public:
  model(const config::ModelConfig& config, metrics::registry& registry, asio::any_io_executor strand)
      : tick(strand),
        name(config.name()),
        requests_key(streams::requests_key(config.name())),
        workers_key(streams::workers_key(config.name())),
        heartbeat(worker_pool::heartbeat_or_default(config.worker_pool().heartbeat_ms())),
        claim_idle(worker_pool::claim_idle_or_default(config.worker_pool().claim_idle_ms())),
        breaker(config.name(), circuit_breaker::options{.stall_after = worker_pool::stalled_claim_idles * claim_idle}),
        live_workers(registry.make_gauge("surge_worker_pool_live_workers",
                                         "Workers of a worker-pool model whose heartbeat is recent",
                                         {{"model", config.name()}})),
        breaker_open(registry.make_gauge("surge_worker_pool_breaker_open",
                                         "1 while requests of a worker-pool model fail fast",
                                         {{"model", config.name()}})),
        outstanding_gauge(registry.make_gauge("surge_worker_pool_outstanding_requests",
                                              "Requests of a worker-pool model in Redis awaiting a reply",
                                              {{"model", config.name()}})) {}

  asio::steady_timer tick;  // watch_model's; stop() cancels it
  const std::string name;
  const std::string requests_key;
  const std::string workers_key;
  const std::chrono::milliseconds heartbeat;
  const std::chrono::milliseconds claim_idle;

  circuit_breaker breaker;
  bool probing{false};
  // Since when the workers set has counted none; nullopt while one is live.
  std::optional<clock::time_point> no_worker_since;
  // Batches held for the answer of a worker count measured on their behalf.
  std::vector<std::pair<std::vector<request_ptr>, std::shared_ptr<batch_tracker>>> parked;
  circuit_breaker::cause reported{circuit_breaker::cause::none};
  metrics::gauge& live_workers;
  metrics::gauge& breaker_open;
  metrics::gauge& outstanding_gauge;
};

// Counts a batch's requests down to zero, then reports it done.
struct redis_gateway::batch_tracker {
  std::size_t remaining{0};
  std::size_t rows{0};
  std::size_t requests{0};
  bool failed{false};
  clock::time_point started{clock::now()};
  instance::done_callback done;
  model_metrics* metrics{nullptr};
  model_statistics* statistics{nullptr};
};

std::shared_ptr<redis_gateway> redis_gateway::create(asio::any_io_executor io, gateway_options options,
                                                     metrics::registry& metrics) {
  return std::shared_ptr<redis_gateway>(new redis_gateway(std::move(io), std::move(options), metrics));
}

redis_gateway::redis_gateway(asio::any_io_executor io, gateway_options options, metrics::registry& metrics)
    : strand_(asio::make_strand(io)),
      options_(std::move(options)),
      id_(options_.gateway_id.empty() ? make_gateway_id() : options_.gateway_id),
      replies_key_(streams::gateway_replies_key(id_)),
      deadline_timer_(strand_),
      late_replies_(metrics.make_counter("surge_worker_pool_late_replies_total",
                                         "Replies that arrived after their request was answered (dropped)", {})),
      metrics_(metrics) {
  redis::connection_options command_options;
  command_options.client_name = "surge-gateway-" + id_;
  commands_ = redis::connection::create(io, options_.redis, command_options);
  replies_ = redis::connection::create(io, options_.redis, command_options);
}

redis_gateway::~redis_gateway() = default;

std::vector<std::unique_ptr<instance>> redis_gateway::make_instances(const config::ModelConfig& config,
                                                                     model_metrics& metrics,
                                                                     model_statistics& statistics) {
  // One model object per name: every version of the model shares its
  // stream, its workers and so its breaker.
  std::shared_ptr<model> target;
  for (const auto& known : known_models_) {
    if (known->name == config.name()) target = known;
  }
  if (!target) {
    target = std::make_shared<model>(config, metrics_, strand_);
    known_models_.push_back(target);
    asio::post(strand_, [self = shared_from_this(), target] {
      self->models_.push_back(target);
      if (self->started_ && !self->stopped_) self->spawn(self->watch_model(target));
    });
  }
  std::uint32_t count = 0;
  for (const auto& group : config.instance_group()) count += static_cast<std::uint32_t>(std::max(1, group.count()));
  count = std::max<std::uint32_t>(count, 1) * batches_per_instance;
  // Enough batches in flight for every worker the autoscaler may start.
  if (config.has_autoscaling()) count = std::max(count, 2 * config.autoscaling().max_replicas() * (count / batches_per_instance));
  std::vector<std::unique_ptr<instance>> instances;
  for (std::uint32_t i = 0; i < count; ++i) {
    instances.push_back(std::make_unique<redis_pool_instance>(shared_from_this(), target, metrics, statistics));
  }
  return instances;
}

std::optional<redis_gateway::pool_gauges> redis_gateway::gauges_of(const std::string& model_name) const {
  for (const auto& known : known_models_) {
    if (known->name == model_name) return pool_gauges{&known->live_workers, &known->outstanding_gauge};
  }
  return std::nullopt;
}

void redis_gateway::start() {
  commands_->start();
  replies_->start();
  asio::post(strand_, [self = shared_from_this()] {
    if (self->started_) return;
    self->started_ = true;
    self->spawn(self->read_replies());
    for (const auto& target : self->models_) self->spawn(self->watch_model(target));
  });
}

void redis_gateway::stop() {
  // Every coroutine of the gateway ends before this returns: one still
  // suspended when the io_context stops would never be destroyed (it owns
  // the gateway, which owns what it waits on).
  std::promise<void> drained;
  asio::post(strand_, [self = shared_from_this(), &drained] {
    self->stopped_ = true;
    self->deadline_timer_.cancel();
    for (auto& target : self->models_) target->tick.cancel();
    for (auto& pending : self->pending_.take_all()) {
      self->answer(std::move(pending), make_error(error_code::not_ready, "the server is shutting down"));
    }
    for (auto& target : self->models_) {
      auto parked = std::move(target->parked);
      target->parked.clear();
      for (auto& [batch, tracker] : parked) {
        for (auto& request : batch) {
          self->finish_untracked(std::move(request), tracker,
                                 make_error(error_code::not_ready, "the server is shutting down"));
        }
      }
    }
    // Ends the reply reader's blocking read.
    self->replies_->stop();
    // The reply stream is this gateway's alone; nobody reads it any more.
    self->spawn([](std::shared_ptr<redis_gateway> gateway) -> asio::awaitable<void> {
      if (!gateway->commands_->connected()) co_return;
      co_await gateway->commands_->exec(redis::command{"DEL", gateway->replies_key_});
    }(self));
    self->drained_ = &drained;
    self->on_coroutine_done(false);
  });
  drained.get_future().wait();
  commands_->stop_and_wait();
  replies_->stop_and_wait();
}

void redis_gateway::spawn(asio::awaitable<void> work) {
  ++running_;
  asio::co_spawn(strand_, std::move(work), [self = shared_from_this()](std::exception_ptr failure) {
    if (failure) {
      try {
        std::rethrow_exception(failure);
      } catch (const std::exception& e) {
        std::cerr << "surge: gateway: " << e.what() << std::endl;
      }
    }
    self->on_coroutine_done(true);
  });
}

void redis_gateway::on_coroutine_done(bool finished) {
  if (finished) --running_;
  if (running_ == 0 && drained_) std::exchange(drained_, nullptr)->set_value();
}

void redis_gateway::submit(const std::shared_ptr<model>& target, std::vector<request_ptr> batch,
                           instance::done_callback done, model_metrics& metrics, model_statistics& statistics) {
  auto tracker = std::make_shared<batch_tracker>();
  tracker->metrics = &metrics;
  tracker->statistics = &statistics;
  tracker->remaining = batch.size();
  tracker->requests = batch.size();
  for (const auto& request : batch) tracker->rows += static_cast<std::size_t>(request->batch_rows());
  tracker->done = std::move(done);
  asio::dispatch(strand_, [self = shared_from_this(), target, batch = std::move(batch),
                           tracker = std::move(tracker)]() mutable {
    if (tracker->remaining == 0) {
      self->settle(tracker, false);
      return;
    }
    self->admit(target, std::move(batch), std::move(tracker), true);
  });
}

void redis_gateway::finish_untracked(request_ptr request, const std::shared_ptr<batch_tracker>& tracker,
                                     std::optional<error> failure) {
  request->sink->finish(std::move(failure));
  settle(tracker, true);
}

void redis_gateway::settle(const std::shared_ptr<batch_tracker>& tracker, bool failed) {
  tracker->failed = tracker->failed || failed;
  if (tracker->remaining > 0) --tracker->remaining;
  if (tracker->remaining > 0 || !tracker->done) return;
  instance::completion completion;
  completion.batch_rows = tracker->rows;
  completion.requests = tracker->requests;
  completion.compute = clock::now() - tracker->started;
  completion.failed = tracker->failed;
  if (tracker->metrics) {
    tracker->metrics->compute_duration.observe(std::chrono::duration<double>(completion.compute).count());
    tracker->metrics->batch_size.observe(static_cast<double>(completion.batch_rows));
  }
  if (!completion.failed && tracker->statistics) {
    // Time in the workers' hands, Redis round trips included: what this
    // process can see of "compute".
    auto& statistics = *tracker->statistics;
    const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(completion.compute);
    statistics.compute_infer.add(ns, completion.requests);
    statistics.execution_count.fetch_add(1, std::memory_order_relaxed);
    statistics.inference_count.fetch_add(completion.batch_rows, std::memory_order_relaxed);
    if (completion.batch_rows <= statistics.max_rows) statistics.batch_compute_infer[completion.batch_rows].add(ns);
    statistics.last_inference_ms.store(static_cast<std::uint64_t>(unix_ms_now()), std::memory_order_relaxed);
  }
  auto done = std::move(tracker->done);
  tracker->done = nullptr;
  done(completion);
}

void redis_gateway::admit(const std::shared_ptr<model>& target, std::vector<request_ptr> batch,
                          std::shared_ptr<batch_tracker> tracker, bool may_probe) {
  const auto now = clock::now();
  if (stopped_) {
    for (auto& request : batch) {
      finish_untracked(std::move(request), tracker, make_error(error_code::not_ready, "the server is shutting down"));
    }
    return;
  }
  auto reason = target->breaker.open_reason(now, pending_.outstanding(target->name));
  if (may_probe) {
    // Never counted (the gateway just started), or counted none a while
    // ago and a worker may have joined since: count before deciding.
    const auto measured = target->breaker.workers_measured_at();
    const bool refusing_for_workers =
        reason &&
        target->breaker.state(now, pending_.outstanding(target->name)) == circuit_breaker::cause::no_live_worker;
    if (!measured || (refusing_for_workers && now - *measured > fresh_worker_count)) {
      target->parked.emplace_back(std::move(batch), std::move(tracker));
      if (!target->probing) {
        target->probing = true;
        spawn(probe_workers(target));
      }
      return;
    }
  }

  std::vector<streams::request_entry> entries;
  std::vector<std::uint64_t> ids;
  entries.reserve(batch.size());
  ids.reserve(batch.size());
  const auto unix_now = unix_ms_now();
  for (auto& request : batch) {
    if (request->cancellation->cancelled()) {
      finish_untracked(std::move(request), tracker,
                       make_error(error_code::cancelled, "request cancelled by the client"));
      continue;
    }
    if (request->deadline && *request->deadline <= now) {
      finish_untracked(std::move(request), tracker,
                       make_error(error_code::deadline_exceeded,
                                  "request timed out in the queue of model '" + request->model + "'"));
      continue;
    }
    if (reason) {
      finish_untracked(std::move(request), tracker, make_error(error_code::not_ready, *reason));
      continue;
    }
    auto encoded = wire::encode_infer_request(request->id, request->inputs, request->requested_outputs,
                                              request->parameters);
    streams::request_entry entry;
    entry.reply_to = replies_key_;
    entry.model = request->model;
    entry.version = request->version;
    if (request->deadline) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(*request->deadline - now).count();
      entry.deadline_unix_ms = unix_now + std::max<std::int64_t>(left, 1);
    }
    entry.priority = request->priority;
    entry.traceparent = request->traceparent;
    entry.header_length = encoded.json_length;
    entry.body = std::make_shared<const std::string>(std::move(encoded.body));
    if (pending_.outstanding(target->name) == 0) target->breaker.observe_busy(now);
    const auto deadline = request->deadline;
    const auto id = pending_.add(target->name, deadline, pending_request{std::move(request), tracker, target});
    entry.id = std::to_string(id);
    entries.push_back(std::move(entry));
    ids.push_back(id);
  }
  target->outstanding_gauge.set(static_cast<std::int64_t>(pending_.outstanding(target->name)));
  if (!entries.empty()) {
    // The scheduler has batched these already: tagged as one batch, a worker
    // runs them together without waiting max_queue_delay a second time.
    const auto batch_token = std::to_string(++batches_sent_);
    std::vector<redis::command> commands;
    commands.reserve(entries.size());
    for (auto& entry : entries) {
      entry.batch = batch_token;
      entry.batch_size = static_cast<std::uint32_t>(entries.size());
      commands.push_back(streams::request_xadd(target->requests_key, entry));
    }
    arm_deadline_timer();
    spawn(send_entries(target, std::move(commands), std::move(ids)));
  }
}

asio::awaitable<void> redis_gateway::send_entries(std::shared_ptr<model> target, std::vector<redis::command> commands,
                                                  std::vector<std::uint64_t> ids) {
  auto self = shared_from_this();
  std::vector<redis::reply> replies;
  if (commands.size() > 1) {
    // As one transaction: a worker blocked on the stream is served after
    // the last XADD, so it reads the whole batch in one XREADGROUP instead
    // of its first entry alone.
    const auto count = commands.size();
    replies = redis::transaction_results(co_await commands_->exec_all(redis::as_transaction(std::move(commands))),
                                         count);
  } else {
    replies = co_await commands_->exec_all(std::move(commands));
  }
  for (std::size_t i = 0; i < ids.size(); ++i) {
    auto& r = replies[i];
    if (r.is_error()) {
      if (auto pending = pending_.take(ids[i])) {
        answer(std::move(*pending), make_error(error_code::not_ready, "cannot queue the request for model '" +
                                                                        target->name + "': " + std::string(r.text())));
      }
      continue;
    }
    if (!pending_.record_stream_entry(ids[i], r.text()) && r.is_string()) {
      // Answered (timed out, shut down) before XADD returned: nobody wants it run.
      forget_entry(target, std::string(r.text()));
    }
  }
}

asio::awaitable<void> redis_gateway::read_replies() {
  auto self = shared_from_this();
  std::string last_id = "0-0";
  auto last_trim = clock::time_point{};
  asio::steady_timer pause(strand_);
  while (!stopped_) {
    redis::command read{"XREAD", "COUNT"};
    read.arg(replies_per_read).arg("BLOCK").arg(1000).arg("STREAMS").arg(replies_key_).arg(last_id);
    auto r = co_await replies_->exec(std::move(read));
    if (stopped_) break;
    if (r.is_error()) {
      // A transport failure already waited out the reconnect backoff; a
      // server error would repeat at once, so wait a little.
      if (!r.transport_failure()) {
        std::cerr << "surge: gateway: reading " << replies_key_ << ": " << r.text() << std::endl;
        pause.expires_after(std::chrono::milliseconds(200));
        co_await pause.async_wait(as_tuple(use_awaitable));
      }
      continue;
    }
    auto entries = streams::entries_of_read(std::move(r), replies_key_);
    if (entries.empty()) continue;
    last_id = entries.back().id;
    for (auto& entry : entries) handle_reply(std::move(entry));
    // Read replies are of no further use; keep the stream short. Not after
    // every read: under load that is one more command per reply batch, and
    // the workers' MAXLEN ~ caps the stream meanwhile.
    if (const auto now = clock::now(); now - last_trim >= trim_interval) {
      last_trim = now;
      commands_->async_exec(redis::command{"XTRIM", replies_key_, "MINID", "~", last_id}, asio::detached);
    }
  }
}

void redis_gateway::handle_reply(streams::stream_entry entry) {
  auto parsed = streams::parse_reply_entry(std::move(entry));
  if (auto* failure = std::get_if<error>(&parsed)) {
    std::cerr << "surge: gateway: ignoring a malformed reply: " << failure->message << std::endl;
    return;
  }
  auto& reply = std::get<streams::reply_entry>(parsed);
  std::uint64_t id = 0;
  const auto [end, ec] = std::from_chars(reply.id.data(), reply.id.data() + reply.id.size(), id);
  auto pending = ec == std::errc{} && end == reply.id.data() + reply.id.size() ? pending_.take(id) : std::nullopt;
  if (!pending) {
    // A duplicate (a worker presumed dead finished anyway) or an answer after
    // the deadline: the first answer already went out.
    late_replies_.increment();
    return;
  }
  pending->payload.target->breaker.observe_reply(clock::now());
  if (reply.status != 200) {
    auto message = reply.error.empty() ? "worker answered status " + std::to_string(reply.status) : reply.error;
    answer(std::move(*pending), make_error(streams::code_of_status(reply.status), std::move(message)));
    return;
  }
  auto decoded = wire::decode_infer_response(std::make_shared<const std::string>(std::move(reply.body)),
                                             reply.header_length);
  if (auto* failure = std::get_if<error>(&decoded)) {
    auto message = "worker " + reply.worker + " sent a malformed response: " + failure->message;
    answer(std::move(*pending), make_error(error_code::internal, std::move(message)));
    return;
  }
  answer(std::move(*pending), std::nullopt, std::move(std::get<wire::decoded_infer_response>(decoded).outputs));
}

// `pending` has left the table already, so nothing else can answer it.
void redis_gateway::answer(pending_entry pending, std::optional<error> failure, std::vector<tensor> outputs) {
  auto& target = pending.payload.target;
  target->outstanding_gauge.set(static_cast<std::int64_t>(pending_.outstanding(target->name)));
  if (failure && !pending.stream_entry_id.empty()) forget_entry(target, pending.stream_entry_id);

  auto& request = *pending.payload.request;
  const bool failed = failure.has_value();
  if (!failure) {
    request.sink->send(inference_response{select_outputs(std::move(outputs), request.requested_outputs), {}});
  }
  request.sink->finish(std::move(failure));
  settle(pending.payload.batch, failed);
}

void redis_gateway::forget_entry(const std::shared_ptr<model>& target, const std::string& entry_id) {
  // Nobody waits for this answer any more: a worker that has not read the
  // entry yet never runs it.
  commands_->async_exec(redis::command{"XDEL", target->requests_key, entry_id}, asio::detached);
}

void redis_gateway::arm_deadline_timer() {
  const auto earliest = pending_.next_deadline();
  if (!earliest || (timer_at_ && *timer_at_ <= *earliest)) return;
  timer_at_ = earliest;
  deadline_timer_.expires_at(*earliest);
  deadline_timer_.async_wait([self = shared_from_this()](boost::system::error_code ec) {
    if (ec) return;
    self->timer_at_.reset();
    self->on_deadline_timer();
  });
}

void redis_gateway::on_deadline_timer() {
  for (auto& pending : pending_.take_expired(clock::now())) {
    auto message = "request to model '" + pending.model + "' timed out waiting for a worker's reply";
    answer(std::move(pending), make_error(error_code::deadline_exceeded, std::move(message)));
  }
  arm_deadline_timer();
}

asio::awaitable<void> redis_gateway::probe_workers(std::shared_ptr<model> target) {
  auto self = shared_from_this();
  target->probing = true;  // also set by whoever spawned this, so no second probe starts meanwhile
  redis::command count{"ZCOUNT", target->workers_key};
  count.arg(unix_ms_now() - worker_pool::live_heartbeats * target->heartbeat.count()).arg("+inf");
  auto r = co_await commands_->exec(std::move(count));
  target->probing = false;
  const auto now = clock::now();
  target->breaker.observe_redis(commands_->connected(), commands_->last_error(), now);
  if (r.is_integer()) {
    target->breaker.observe_workers(r.integer(), now);
    target->live_workers.set(r.integer());
    if (r.integer() > 0) {
      target->no_worker_since.reset();
    } else if (!target->no_worker_since) {
      target->no_worker_since = now;
    } else if (now - *target->no_worker_since >= target->claim_idle && pending_.outstanding(target->name) > 0) {
      // Nobody has been there to take these for as long as an entry may
      // sit unclaimed: answer them rather than let them wait for a worker
      // that may never come (their entries are deleted, so a worker that
      // comes later does not run them).
      abandon_outstanding(target, "no live worker for model '" + target->name + "'");
    }
  }
  const auto state = target->breaker.state(now, pending_.outstanding(target->name));
  target->breaker_open.set(state == circuit_breaker::cause::none ? 0 : 1);
  if (state != target->reported) {
    if (state == circuit_breaker::cause::none) {
      std::cerr << "surge: model " << target->name << ": workers available again" << std::endl;
    } else if (auto reason = target->breaker.open_reason(now, pending_.outstanding(target->name))) {
      std::cerr << "surge: model " << target->name << ": failing requests fast: " << *reason << std::endl;
    }
    target->reported = state;
  }
  auto parked = std::move(target->parked);
  target->parked.clear();
  for (auto& [batch, tracker] : parked) admit(target, std::move(batch), std::move(tracker), false);
}

void redis_gateway::abandon_outstanding(const std::shared_ptr<model>& target, const std::string& reason) {
  for (auto& pending : pending_.take_model(target->name)) {
    answer(std::move(pending), make_error(error_code::not_ready, reason));
  }
}

asio::awaitable<void> redis_gateway::watch_model(std::shared_ptr<model> target) {
  auto self = shared_from_this();
  auto& tick = target->tick;
  // Often enough that a worker that dies or joins is noticed well within
  // the three heartbeats that define it as gone.
  const auto interval =
      std::clamp(target->heartbeat / 2, std::chrono::milliseconds(20), std::chrono::milliseconds(500));
  while (!stopped_) {
    if (!target->probing) co_await probe_workers(target);
    tick.expires_after(interval);
    co_await tick.async_wait(as_tuple(use_awaitable));
  }
}

}  // namespace surge::gateway
