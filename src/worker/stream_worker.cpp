#include "worker/stream_worker.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <algorithm>
#include <charconv>
#include <deque>
#include <iostream>
#include <map>
#include <mutex>
#include <optional>

#include "core/client_text.hpp"
#include "wire/kserve_request.hpp"
#include "wire/kserve_response.hpp"
#include "model/request_checks.hpp"
#include "streams/keys.hpp"
#include "streams/limits.hpp"
#include "worker/batch_grouping.hpp"

namespace surge::worker {

namespace {

using asio::as_tuple;
using asio::use_awaitable;
using steady = std::chrono::steady_clock;

// A worker with nothing to read still wakes this often, to reclaim and to
// notice a stop.
constexpr std::chrono::milliseconds max_block{200};

std::int64_t unix_ms_now() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Holds one request's answer until the whole read is answered together.
class collecting_sink final : public response_sink {
 public:
  void send(inference_response response) override {
    std::lock_guard lock(mutex_);
    response_ = std::move(response);
  }
  void finish(std::optional<error> failure) override {
    std::lock_guard lock(mutex_);
    failure_ = std::move(failure);
    finished_ = true;
  }
  bool finished() {
    std::lock_guard lock(mutex_);
    return finished_;
  }
  std::optional<error> take_failure() {
    std::lock_guard lock(mutex_);
    return std::move(failure_);
  }
  std::vector<tensor> take_outputs() {
    std::lock_guard lock(mutex_);
    return response_ ? std::move(response_->outputs) : std::vector<tensor>{};
  }

 private:
  std::mutex mutex_;
  std::optional<inference_response> response_;  // guarded by mutex_
  std::optional<error> failure_;                // guarded by mutex_
  bool finished_{false};                        // guarded by mutex_
};

// Stream ids "<ms>-<seq>" compare as number pairs; an id that does not
// parse sorts first, which only makes trimming keep more.
std::pair<std::uint64_t, std::uint64_t> stream_id_parts(std::string_view id) {
  std::uint64_t ms = 0;
  std::uint64_t seq = 0;
  const auto dash = id.find('-');
  const auto head = id.substr(0, dash);
  std::from_chars(head.data(), head.data() + head.size(), ms);
  if (dash != std::string_view::npos) {
    const auto tail = id.substr(dash + 1);
    std::from_chars(tail.data(), tail.data() + tail.size(), seq);
  }
  return {ms, seq};
}

bool stream_id_less(std::string_view a, std::string_view b) { return stream_id_parts(a) < stream_id_parts(b); }

// Puts the inputs in the config's order, so requests that list them in
// different orders still batch together.
void order_inputs(const config::ModelConfig& config, inference_request& request) {
  std::vector<tensor> ordered;
  ordered.reserve(request.inputs.size());
  for (const auto& spec : config.input()) {
    for (auto& input : request.inputs) {
      if (input.name == spec.name()) ordered.push_back(std::move(input));
    }
  }
  request.inputs = std::move(ordered);
}

// True when Redis itself refused to add a reply (WRONGTYPE: reply_to holds
// another type; a syntax error), which no retry will change; false for a lost
// connection and for the errors Redis clears by itself (out of memory, a
// replica, loading).
bool reply_key_unwritable(const redis::reply& written) {
  if (!written.is_error() || written.transport_failure()) return false;
  const auto text = written.text();
  for (std::string_view transient : {"OOM", "LOADING", "BUSY", "TRYAGAIN", "READONLY", "MASTERDOWN", "CLUSTERDOWN",
                                     "NOREPLICAS", "MISCONF"}) {
    if (text.starts_with(transient)) return false;
  }
  return true;
}

}  // namespace

// One entry on its way through process(): answered early (reply set), or
// a request to execute.
struct stream_worker::job {
  std::string entry_id;
  std::string reply_to;
  std::string id;
  // The entry as it came, for a dead letter should its reply be unwritable:
  // every field but the body, and the body itself (shared, not copied).
  std::vector<std::pair<std::string, std::string>> fields;
  std::shared_ptr<const std::string> body;
  std::optional<streams::reply_entry> reply;
  loaded_version* version{nullptr};
  request_ptr request;  // moved into a batch while it runs
  std::shared_ptr<collecting_sink> sink;
  std::string kserve_id;
  std::vector<wire::requested_output> outputs;
  bool binary_outputs_default{true};
};

worker_settings settings_from(const config::ModelConfig& config, std::string name) {
  worker_settings settings;
  settings.name = std::move(name);
  const auto& pool = config.worker_pool();
  settings.heartbeat = worker_pool::heartbeat_or_default(pool.heartbeat_ms());
  settings.claim_idle = worker_pool::claim_idle_or_default(pool.claim_idle_ms());
  settings.max_deliveries = worker_pool::max_deliveries_or_default(pool.max_deliveries());
  settings.read_count = static_cast<std::uint32_t>(std::max(1, config.max_batch_size()));
  if (config.has_dynamic_batching()) {
    settings.max_queue_delay = std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::microseconds(config.dynamic_batching().max_queue_delay_microseconds()));
  }
  return settings;
}

std::shared_ptr<stream_worker> stream_worker::create(asio::any_io_executor io, redis::endpoint where,
                                                     loaded_model& model, worker_settings settings) {
  return std::shared_ptr<stream_worker>(new stream_worker(std::move(io), std::move(where), model, std::move(settings)));
}

stream_worker::stream_worker(asio::any_io_executor io, redis::endpoint where, loaded_model& model,
                             worker_settings settings)
    : io_(io),
      model_(model),
      settings_(std::move(settings)),
      requests_key_(streams::requests_key(model.config().name())),
      workers_key_(streams::workers_key(model.config().name())),
      dead_key_(streams::dead_letter_key(model.config().name())),
      heartbeat_timer_(io) {
  redis::connection_options options;
  options.client_name = "surge-worker-" + settings_.name;
  commands_ = redis::connection::create(io, where, options);
  reads_ = redis::connection::create(io, std::move(where), options);
}

void stream_worker::stop() {
  asio::post(io_, [self = shared_from_this()] { self->stopping_ = true; });
}

asio::awaitable<void> stream_worker::sleep(std::chrono::milliseconds how_long) {
  asio::steady_timer timer(io_, how_long);
  co_await timer.async_wait(as_tuple(use_awaitable));
}

bool stream_worker::ensure_group_command_failed(const redis::reply& r) {
  return r.is_error() && !std::string_view(r.text()).starts_with("BUSYGROUP");
}

asio::awaitable<bool> stream_worker::join() {
  std::string reported;
  while (!stopping_) {
    auto r = co_await commands_->exec(
        redis::command{"XGROUP", "CREATE", requests_key_, streams::consumer_group, "0", "MKSTREAM"});
    if (!ensure_group_command_failed(r)) {
      redis::command heartbeat{"ZADD", workers_key_};
      heartbeat.arg(unix_ms_now()).arg(settings_.name);
      auto beat = co_await commands_->exec(std::move(heartbeat));
      if (!beat.is_error()) co_return true;
      r = std::move(beat);
    }
    const std::string problem(r.text());
    if (problem != reported) {
      std::cerr << "surge worker: " << settings_.name << ": cannot join yet: " << problem << std::endl;
      reported = problem;
    }
    // A transport failure already waited for a reconnect attempt.
    if (!r.transport_failure()) co_await sleep(std::chrono::milliseconds(500));
  }
  co_return false;
}

asio::awaitable<void> stream_worker::run() {
  auto self = shared_from_this();
  commands_->start();
  reads_->start();
  if (co_await join()) {
    std::string versions;
    for (const auto v : model_.versions()) versions += (versions.empty() ? "" : ",") + std::to_string(v);
    std::cout << "surge worker: " << settings_.name << " joined model " << model_.config().name() << " (versions "
              << versions << ") at redis " << commands_->where().display() << std::endl;
    asio::co_spawn(io_, heartbeat_loop(), asio::detached);
    last_reclaim_ = steady::now();
    while (!stopping_) {
      if (steady::now() - last_reclaim_ >= settings_.heartbeat) {
        auto claimed = co_await reclaim();
        if (!claimed.empty()) {
          // More may be stale (suspects come one at a time): look again next.
          co_await process(std::move(claimed));
          continue;
        }
        last_reclaim_ = steady::now();
      }
      auto entries = co_await read_batch();
      if (!entries.empty()) co_await process(std::move(entries));
    }
    leaving_ = true;
    auto gone = co_await commands_->exec(redis::command{"ZREM", workers_key_, settings_.name});
    if (gone.is_error()) std::cerr << "surge worker: " << settings_.name << ": leaving: " << gone.text() << std::endl;
  }
  left_ = true;
  heartbeat_timer_.cancel();
  commands_->stop();
  reads_->stop();
}

asio::awaitable<void> stream_worker::heartbeat_loop() {
  auto self = shared_from_this();
  // Checked before each ZADD: one sent after the ZREM of a worker leaving
  // would add it back to the set (both go through commands_ in order).
  while (!left_ && !leaving_) {
    redis::command beat{"ZADD", workers_key_};
    beat.arg(unix_ms_now()).arg(settings_.name);
    auto r = co_await commands_->exec(std::move(beat));
    if (left_) break;
    if (r.is_error() && !r.transport_failure()) {
      std::cerr << "surge worker: " << settings_.name << ": heartbeat: " << r.text() << std::endl;
    }
    if (!r.is_error()) co_await trim();
    heartbeat_timer_.expires_after(settings_.heartbeat);
    co_await heartbeat_timer_.async_wait(as_tuple(use_awaitable));
  }
}

asio::awaitable<void> stream_worker::trim() {
  // Nothing older than the oldest pending entry or the group's last
  // delivered entry is still needed by anyone.
  std::vector<redis::command> queries;
  queries.push_back(redis::command{"XPENDING", requests_key_, streams::consumer_group});
  queries.push_back(redis::command{"XINFO", "GROUPS", requests_key_});
  auto replies = co_await commands_->exec_all(std::move(queries));
  const auto& pending = replies[0];
  const auto& groups = replies[1];
  if (pending.is_error() || groups.is_error() || !groups.is_array()) co_return;
  std::string last_delivered;
  for (const auto& group : groups.elements()) {
    if (!group.is_array()) continue;
    bool ours = false;
    std::string delivered;
    for (std::size_t i = 0; i + 1 < group.size(); i += 2) {
      if (group[i].text() == "name") ours = group[i + 1].text() == streams::consumer_group;
      if (group[i].text() == "last-delivered-id") delivered = std::string(group[i + 1].text());
    }
    if (ours) last_delivered = delivered;
  }
  if (last_delivered.empty() || last_delivered == "0-0") co_return;
  std::string minimum = last_delivered;
  if (pending.is_array() && pending.size() >= 2 && pending[1].is_string()) {
    const auto oldest = std::string(pending[1].text());
    if (stream_id_less(oldest, minimum)) minimum = oldest;
  }
  co_await commands_->exec(redis::command{"XTRIM", requests_key_, "MINID", "~", minimum});
}

asio::awaitable<std::vector<streams::stream_entry>> stream_worker::read_batch() {
  // block nullopt: no BLOCK, answered at once with what is there.
  const auto read = [this](std::uint32_t count, std::optional<std::chrono::milliseconds> block) {
    redis::command c{"XREADGROUP", "GROUP", streams::consumer_group, settings_.name, "COUNT"};
    c.arg(count);
    if (block) c.arg("BLOCK").arg(static_cast<std::int64_t>(std::max<std::int64_t>(1, block->count())));
    c.arg("STREAMS").arg(requests_key_).arg(">");
    return c;
  };
  const auto until_reclaim = settings_.heartbeat - (steady::now() - last_reclaim_);
  const auto first_block = std::clamp(std::chrono::duration_cast<std::chrono::milliseconds>(until_reclaim),
                                      std::chrono::milliseconds(1), max_block);
  auto r = co_await reads_->exec(read(settings_.read_count, first_block));
  if (r.is_error()) {
    if (std::string_view(r.text()).starts_with("NOGROUP")) {
      // Redis restarted without persistence, or the stream was deleted.
      co_await join();
    } else if (!r.transport_failure()) {
      std::cerr << "surge worker: " << settings_.name << ": XREADGROUP: " << r.text() << std::endl;
      co_await sleep(std::chrono::milliseconds(200));
    }
    co_return std::vector<streams::stream_entry>{};
  }
  auto entries = streams::entries_of_read(std::move(r), requests_key_);
  if (entries.empty()) co_return entries;

  // Dynamic batching on the worker's side: wait up to max_queue_delay for
  // more entries to fill the batch. Entries a producer wrote as one batch
  // (batch, batch_size) were batched already: the worker only collects the
  // rest of a batch that a blocked read returned in part (Redis serves a
  // blocked reader after the first XADD of a pipelined write), without
  // waiting, and runs them as they are.
  const auto deadline = steady::now() + settings_.max_queue_delay;
  while (entries.size() < settings_.read_count && !stopping_) {
    const auto want = settings_.read_count - static_cast<std::uint32_t>(entries.size());
    std::optional<std::chrono::milliseconds> block;
    const bool tagged =
        std::ranges::all_of(entries, [](const auto& e) { return streams::batch_tag_of(e).has_value(); });
    if (tagged && streams::whole_batches(entries)) break;
    if (!tagged) {
      // Entries of a producer that does not batch: fill the batch.
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - steady::now());
      if (left.count() <= 0) break;
      block = left;
    }
    auto more = co_await reads_->exec(read(want, block));
    if (more.is_error()) break;
    auto extra = streams::entries_of_read(std::move(more), requests_key_);
    // Nothing more there: the rest of the batch went to another worker or
    // was deleted.
    if (extra.empty() && !block) break;
    for (auto& e : extra) entries.push_back(std::move(e));
  }
  co_return entries;
}

asio::awaitable<std::vector<streams::stream_entry>> stream_worker::reclaim() {
  const auto idle_ms = static_cast<std::int64_t>(settings_.claim_idle.count());
  // The stale entries, with who held them and how often they were delivered.
  redis::command stale{"XPENDING", requests_key_, streams::consumer_group, "IDLE"};
  stale.arg(idle_ms).arg("-").arg("+").arg(settings_.read_count);
  auto rows = co_await commands_->exec(std::move(stale));
  if (!rows.is_array() || rows.size() == 0) co_return std::vector<streams::stream_entry>{};
  struct candidate {
    std::string id;
    std::string owner;
    std::int64_t deliveries;
  };
  std::vector<candidate> first_timers;
  std::optional<candidate> suspect;
  for (const auto& row : rows.elements()) {
    if (!row.is_array() || row.size() < 4) continue;
    candidate c{std::string(row[0].text()), std::string(row[1].text()), row[3].as_integer().value_or(1)};
    if (c.deliveries <= 1) {
      first_timers.push_back(std::move(c));
    } else if (!suspect) {
      suspect = std::move(c);
    }
  }
  // Entries whose one delivery died with its worker are claimed together
  // and batched: the common case (a worker killed, a node lost) recovers at
  // full speed. An entry delivered more than once may be what killed its
  // workers, so it is claimed and run alone: if it crashes this worker too,
  // it takes no claimed batch-mates with it.
  std::vector<candidate> chosen;
  if (!first_timers.empty()) {
    chosen = std::move(first_timers);
  } else if (suspect) {
    chosen.push_back(std::move(*suspect));
  } else {
    co_return std::vector<streams::stream_entry>{};
  }
  // XCLAIM with the idle time as its minimum: an entry someone else
  // claimed (or that was answered) meanwhile is not taken.
  redis::command claim{"XCLAIM", requests_key_, streams::consumer_group, settings_.name};
  claim.arg(idle_ms);
  for (const auto& c : chosen) claim.arg(c.id);
  auto claimed = co_await commands_->exec(std::move(claim));
  auto entries = streams::entries_of_list(std::move(claimed));
  if (entries.empty()) co_return entries;
  std::map<std::string, const candidate*> by_id;
  for (const auto& c : chosen) by_id[c.id] = &c;
  const bool alone = chosen.size() == 1 && chosen.front().deliveries > 1;

  std::vector<streams::stream_entry> keep;
  std::vector<redis::command> letters;
  std::vector<std::string> dead_ids;
  std::vector<std::size_t> letter_of;  // per dead id: its XADD to the dead-letter stream in `letters`
  for (auto& entry : entries) {
    const auto it = by_id.find(entry.id);
    // This claim was one more delivery.
    const std::int64_t delivered = (it == by_id.end() ? 1 : it->second->deliveries) + 1;
    if (delivered <= static_cast<std::int64_t>(settings_.max_deliveries)) {
      if (alone) run_alone_.insert(entry.id);
      keep.push_back(std::move(entry));
      continue;
    }
    const auto owner = it == by_id.end() ? std::string("unknown") : it->second->owner;
    const auto reason = "delivered " + std::to_string(delivered) + " times without an answer (max_deliveries " +
                        std::to_string(settings_.max_deliveries) + ")";
    redis::command letter{"XADD", dead_key_, "MAXLEN", "~"};
    letter.arg(static_cast<std::uint64_t>(streams::dead_letter_max_length)).arg("*");
    for (const auto& [field, value] : entry.fields) letter.arg(field).arg(value);
    letter.arg("reason").arg(reason).arg("deliveries").arg(delivered).arg("last_worker").arg(owner);
    letter_of.push_back(letters.size());
    letters.push_back(std::move(letter));
    const auto* id = entry.find("id");
    const auto* reply_to = entry.find("reply_to");
    if (id && reply_to && !reply_to->empty()) {
      streams::reply_entry answer;
      answer.id = *id;
      answer.status = 500;
      answer.error = "request to model '" + model_.config().name() + "' was dead-lettered to " + dead_key_ + ": " +
                     reason + "; last worker " + owner;
      answer.worker = settings_.name;
      letters.push_back(streams::reply_xadd(*reply_to, answer));
    }
    dead_ids.push_back(entry.id);
  }
  if (!dead_ids.empty()) {
    auto written = co_await commands_->exec_all(std::move(letters));
    // An entry is done once its dead letter is written, whether or not its
    // 500 reply could be (a reply_to holding another type never will be):
    // acknowledging it then dead-letters it exactly once. One whose letter
    // failed stays pending and is tried again at the next claim.
    redis::command ack{"XACK", requests_key_, streams::consumer_group};
    std::size_t count = 0;
    for (std::size_t i = 0; i < dead_ids.size(); ++i) {
      if (letter_of[i] >= written.size() || written[letter_of[i]].is_error()) continue;
      ack.arg(dead_ids[i]);
      ++count;
    }
    for (std::size_t i = 0; i < written.size(); ++i) {
      if (written[i].is_error()) {
        std::cerr << "surge worker: " << settings_.name << ": dead-lettering: " << written[i].text() << std::endl;
      }
    }
    if (count > 0) {
      co_await commands_->exec(std::move(ack));
      counters_.dead_lettered += count;
      std::cerr << "surge worker: " << settings_.name << ": dead-lettered " << count << " request(s) to "
                << dead_key_ << std::endl;
    }
  }
  co_return keep;
}

asio::awaitable<void> stream_worker::process(std::vector<streams::stream_entry> entries) {
  const auto& config = model_.config();
  const auto now_ms = unix_ms_now();
  std::vector<job> jobs;
  jobs.reserve(entries.size());
  std::vector<redis::command> malformed;
  std::vector<std::string> malformed_ids;
  for (auto& entry : entries) {
    job j;
    j.entry_id = entry.id;
    const auto reject = [&j, this](int status, std::string message) {
      streams::reply_entry r;
      r.id = j.id;
      r.status = status;
      r.error = std::move(message);
      r.worker = settings_.name;
      j.reply = std::move(r);
    };
    if (!entry.find("id") || !entry.find("reply_to")) {
      // Nobody to answer: keep it for inspection instead of dropping it.
      redis::command letter{"XADD", dead_key_, "MAXLEN", "~"};
      letter.arg(static_cast<std::uint64_t>(streams::dead_letter_max_length)).arg("*");
      for (const auto& [field, value] : entry.fields) letter.arg(field).arg(value);
      letter.arg("reason").arg("malformed entry: no id or reply_to field").arg("deliveries").arg(1);
      letter.arg("last_worker").arg(settings_.name);
      malformed.push_back(std::move(letter));
      malformed_ids.push_back(entry.id);
      run_alone_.erase(entry.id);
      continue;
    }
    for (const auto& field : entry.fields) {
      if (field.first != "body") j.fields.push_back(field);
    }
    streams::request_entry request_fields;
    auto invalid = streams::parse_request_entry(std::move(entry), request_fields);
    j.body = request_fields.body;
    j.id = request_fields.id;
    j.reply_to = request_fields.reply_to;
    if (invalid) {
      reject(400, invalid->message);
    } else if (request_fields.model != config.name()) {
      reject(400, "entry names model '" + client_text(request_fields.model) + "' but this stream is model '" +
                      config.name() + "'");
    } else if (request_fields.deadline_unix_ms && *request_fields.deadline_unix_ms <= now_ms) {
      reject(504, "request to model '" + config.name() + "' passed its deadline before worker " + settings_.name +
                      " took it");
    } else if (!(j.version = model_.find(request_fields.version))) {
      reject(404, "worker " + settings_.name + " does not serve version " +
                      std::to_string(request_fields.version.value_or(0)) + " of model '" + config.name() + "'");
    } else {
      auto decoded = wire::decode_infer_request(request_fields.body, request_fields.header_length);
      if (auto* failure = std::get_if<error>(&decoded)) {
        reject(400, failure->message);
      } else {
        auto& parsed = std::get<wire::decoded_infer_request>(decoded);
        auto request = std::make_unique<inference_request>();
        request->id = j.id;
        request->model = config.name();
        request->version = j.version->version;
        request->inputs = std::move(parsed.inputs);
        for (const auto& output : parsed.outputs) request->requested_outputs.push_back(output.name);
        request->parameters = std::move(parsed.parameters);
        request->priority = request_fields.priority;
        request->traceparent = request_fields.traceparent;
        j.sink = std::make_shared<collecting_sink>();
        request->sink = j.sink;
        j.kserve_id = parsed.id;
        j.outputs = std::move(parsed.outputs);
        j.binary_outputs_default = parsed.binary_outputs_default;
        if (auto problem = validate_request(config, *request)) {
          reject(400, problem->message);
        } else {
          order_inputs(config, *request);
          apply_reshape(config, *request);
          j.request = std::move(request);
        }
      }
    }
    if (j.reply) {
      ++counters_.rejected;
      run_alone_.erase(j.entry_id);
    }
    jobs.push_back(std::move(j));
  }
  if (!malformed.empty()) {
    auto written = co_await commands_->exec_all(std::move(malformed));
    redis::command ack{"XACK", requests_key_, streams::consumer_group};
    for (const auto& id : malformed_ids) ack.arg(id);
    co_await commands_->exec(std::move(ack));
    counters_.dead_lettered += malformed_ids.size();
  }
  if (jobs.empty()) co_return;

  std::vector<std::string> running;
  for (const auto& j : jobs) {
    if (j.request) running.push_back(j.entry_id);
  }
  if (!running.empty()) {
    using namespace asio::experimental::awaitable_operators;
    co_await (execute(jobs) || keep_claimed(std::move(running)));
  }
  co_await answer_and_ack(jobs);
}

asio::awaitable<void> stream_worker::execute(std::vector<job>& jobs) {
  std::vector<const inference_request*> requests;
  std::vector<std::size_t> job_of;
  for (std::size_t i = 0; i < jobs.size(); ++i) {
    if (!jobs[i].request) continue;
    requests.push_back(jobs[i].request.get());
    job_of.push_back(i);
  }
  std::vector<std::vector<std::size_t>> groups;
  {
    // Suspects first, each alone; the rest batched as usual.
    std::vector<const inference_request*> batchable;
    std::vector<std::size_t> index_of;
    for (std::size_t r = 0; r < requests.size(); ++r) {
      if (run_alone_.erase(jobs[job_of[r]].entry_id) > 0) {
        groups.push_back({r});
      } else {
        batchable.push_back(requests[r]);
        index_of.push_back(r);
      }
    }
    for (auto& group :
         group_batches(batchable, static_cast<std::uint32_t>(std::max(0, model_.config().max_batch_size())))) {
      for (auto& index : group) index = index_of[index];
      groups.push_back(std::move(group));
    }
  }

  // Each version runs its batches on its own instances, one batch per
  // instance at a time; a latch wakes this coroutine when the last is done.
  struct run_state {
    explicit run_state(asio::any_io_executor io) : wake(io, asio::steady_timer::time_point::max()) {}
    std::size_t remaining{0};
    asio::steady_timer wake;
    std::map<loaded_version*, std::deque<std::vector<request_ptr>>> queued;
    std::map<loaded_version*, std::vector<std::size_t>> free;
  };
  auto state = std::make_shared<run_state>(io_);
  for (const auto& group : groups) {
    auto* version = jobs[job_of[group.front()]].version;
    std::vector<request_ptr> batch;
    for (const auto index : group) batch.push_back(std::move(jobs[job_of[index]].request));
    state->queued[version].push_back(std::move(batch));
    ++state->remaining;
  }
  for (auto& [version, queue] : state->queued) {
    for (std::size_t i = 0; i < version->instances.size(); ++i) state->free[version].push_back(i);
  }
  counters_.batches += groups.size();
  counters_.requests += requests.size();

  auto start_next = std::make_shared<std::function<void(loaded_version*)>>();
  *start_next = [this, state, start_next_weak = std::weak_ptr(start_next)](loaded_version* version) {
    auto& queue = state->queued[version];
    auto& free = state->free[version];
    while (!queue.empty() && !free.empty()) {
      const auto index = free.back();
      free.pop_back();
      auto batch = std::move(queue.front());
      queue.pop_front();
      version->instances[index]->execute(std::move(batch), [this, state, version, index,
                                                            start_next_weak](instance::completion) {
        asio::post(io_, [state, version, index, start_next_weak] {
          state->free[version].push_back(index);
          if (--state->remaining == 0) state->wake.cancel();
          if (auto next = start_next_weak.lock()) (*next)(version);
        });
      });
    }
  };
  for (auto& [version, queue] : state->queued) (*start_next)(version);
  while (state->remaining > 0) co_await state->wake.async_wait(as_tuple(use_awaitable));
}

asio::awaitable<void> stream_worker::keep_claimed(std::vector<std::string> ids) {
  // A batch longer than a heartbeat would look abandoned after claim_idle;
  // claiming it again resets its idle time without counting a delivery.
  asio::steady_timer tick(io_);
  for (;;) {
    tick.expires_after(settings_.heartbeat);
    auto [ec] = co_await tick.async_wait(as_tuple(use_awaitable));
    if (ec) co_return;  // the batch is done
    redis::command claim{"XCLAIM", requests_key_, streams::consumer_group, settings_.name, "0"};
    for (const auto& id : ids) claim.arg(id);
    claim.arg("JUSTID");
    co_await commands_->exec(std::move(claim));
  }
}

asio::awaitable<void> stream_worker::answer_and_ack(std::vector<job>& jobs) {
  const auto& config = model_.config();
  std::vector<redis::command> replies;
  std::vector<std::string> acked;
  replies.reserve(jobs.size());
  for (auto& j : jobs) {
    streams::reply_entry reply;
    if (j.reply) {
      reply = std::move(*j.reply);
    } else {
      reply.id = j.id;
      reply.worker = settings_.name;
      if (!j.sink || !j.sink->finished()) {
        reply.status = 500;
        reply.error = "worker " + settings_.name + " lost the request";
      } else if (auto failure = j.sink->take_failure()) {
        reply.status = streams::status_of(failure->code);
        reply.error = std::move(failure->message);
      } else {
        auto encoded = wire::encode_infer_response(config.name(), j.version->version, j.kserve_id,
                                                   j.sink->take_outputs(), j.outputs, j.binary_outputs_default);
        reply.header_length = encoded.json_length;
        reply.body = std::move(encoded.body);
      }
    }
    replies.push_back(streams::reply_xadd(j.reply_to, reply));
    acked.push_back(j.entry_id);
  }
  auto written = co_await commands_->exec_all(std::move(replies));
  redis::command ack{"XACK", requests_key_, streams::consumer_group};
  std::size_t count = 0;
  std::vector<redis::command> letters;
  std::vector<std::string> dead_ids;
  for (std::size_t i = 0; i < written.size(); ++i) {
    if (!written[i].is_error()) {
      ack.arg(acked[i]);
      ++count;
      continue;
    }
    std::cerr << "surge worker: " << settings_.name << ": reply to " << client_text(jobs[i].reply_to) << ": "
              << written[i].text() << std::endl;
    if (!reply_key_unwritable(written[i])) {
      // Unacknowledged, so it stays pending and another worker answers it
      // after claim_idle: a lost reply must not lose the request.
      continue;
    }
    // Redis refused the write itself (reply_to holds a list, a hash...): no
    // worker will ever answer this entry, so retrying it every claim_idle
    // only repeats the work. Dead-letter it, with the reason, and
    // acknowledge it once the letter is written.
    redis::command letter{"XADD", dead_key_, "MAXLEN", "~"};
    letter.arg(static_cast<std::uint64_t>(streams::dead_letter_max_length)).arg("*");
    for (const auto& [field, value] : jobs[i].fields) letter.arg(field).arg(value);
    if (jobs[i].body) letter.arg("body").arg(*jobs[i].body);
    letter.arg("reason").arg("the reply cannot be written to " + jobs[i].reply_to + ": " +
                             std::string(written[i].text()));
    letter.arg("last_worker").arg(settings_.name);
    letters.push_back(std::move(letter));
    dead_ids.push_back(acked[i]);
  }
  if (!letters.empty()) {
    auto lettered = co_await commands_->exec_all(std::move(letters));
    for (std::size_t i = 0; i < lettered.size(); ++i) {
      if (lettered[i].is_error()) {
        std::cerr << "surge worker: " << settings_.name << ": dead-lettering: " << lettered[i].text() << std::endl;
        continue;
      }
      ack.arg(dead_ids[i]);
      ++count;
      ++counters_.dead_lettered;
    }
  }
  if (count == 0) co_return;
  // Not awaited: the next read goes out on the other connection meanwhile,
  // instead of a round trip later. The acknowledgement still leaves after
  // its replies were written, and anything later on this connection (the
  // ZREM of a worker leaving, a reclaim's XPENDING) is answered after it.
  // Lost with a killed worker, the entries are claimed and answered again,
  // and the producer drops the second reply.
  commands_->async_exec(std::move(ack), [name = settings_.name](redis::reply r) {
    if (r.is_error() && !r.transport_failure()) {
      std::cerr << "surge worker: " << name << ": XACK: " << r.text() << std::endl;
    }
  });
}

}  // namespace surge::worker
