#include "scheduler/batch_queue.hpp"

#include <algorithm>
#include <cmath>
#include <functional>
#include <string_view>

namespace surge {

namespace {

constexpr double smoothing = 0.2;  // weight of the newest measurement
// Cancelled requests are also found when they reach a level's front or are
// picked into a batch; the sweep bounds how long one deep in a queue stays.
constexpr std::size_t sweep_per_poll = 8;
// Requests too large to join the batch being formed that the scan steps
// over before it stops looking for smaller ones.
constexpr std::size_t max_skipped = 32;
// Empty groups kept for reuse: a model's few shapes keep theirs.
constexpr std::size_t max_groups_kept = 64;

std::uint64_t mix(std::uint64_t h, std::uint64_t v) { return (h ^ v) * 0x100000001b3ULL; }

// A ragged input's dims after the first are left out: they do not split groups.
std::uint64_t shape_hash(const inference_request& request, const batcher_options& options) {
  std::uint64_t h = 0xcbf29ce484222325ULL;
  for (const auto& input : request.inputs) {
    h = mix(h, std::hash<std::string_view>{}(input.name));
    h = mix(h, static_cast<std::uint64_t>(input.type));
    h = mix(h, input.shape.size());
    if (options.is_ragged(input.name)) continue;
    for (std::size_t d = 1; d < input.shape.size(); ++d) h = mix(h, static_cast<std::uint64_t>(input.shape[d]));
  }
  return h;
}

}  // namespace

// Requests whose inputs can be concatenated along dim 0: same names, types,
// ranks and every dimension but the first, except for ragged inputs, whose
// other dims may differ (the backend pads them). Requests selecting
// different outputs still batch: outputs are filtered per request.
struct batch_queue::group {
  struct input_signature {
    std::string name;
    data_type type;
    std::vector<std::int64_t> shape;  // dim 0 ignored
    bool ragged{false};               // only the rank must match
  };
  std::uint64_t hash{0};
  std::vector<input_signature> inputs;
  std::vector<std::deque<std::uint64_t>> seqs;  // per level, ascending; entries that left are skipped
  std::size_t live{0};
  bool release_pending{false};

  bool accepts(const inference_request& request) const {
    if (request.inputs.size() != inputs.size()) return false;
    for (std::size_t i = 0; i < inputs.size(); ++i) {
      const auto& have = inputs[i];
      const auto& want = request.inputs[i];
      if (have.name != want.name || have.type != want.type || have.shape.size() != want.shape.size()) return false;
      if (!have.ragged && !std::equal(have.shape.begin() + (have.shape.empty() ? 0 : 1), have.shape.end(),
                      want.shape.begin() + (want.shape.empty() ? 0 : 1))) {
        return false;
      }
    }
    return true;
  }
};

batch_queue::batch_queue(batcher_options options) : options_(std::move(options)) {
  if (options_.priority_levels == 0) options_.priority_levels = 1;
  if (options_.instances == 0) options_.instances = 1;
  options_.default_priority_level =
      std::clamp<std::uint32_t>(options_.default_priority_level, 1, options_.priority_levels);
  std::sort(options_.preferred_batch_sizes.begin(), options_.preferred_batch_sizes.end());
  levels_ = std::vector<level>(options_.priority_levels);
  const std::size_t limit = options_.max_batch_size == 0 ? 1 : options_.max_batch_size;
  const auto& preferred = options_.preferred_batch_sizes;
  target_rows_ = preferred.empty() ? limit : std::min<std::size_t>(preferred.back(), limit);
}

batch_queue::~batch_queue() = default;

std::size_t batch_queue::rows_of(const inference_request& request) const {
  return options_.max_batch_size == 0 ? 1 : static_cast<std::size_t>(std::max<std::int64_t>(1, request.batch_rows()));
}

batch_queue::slot* batch_queue::live_slot(std::uint32_t l, std::uint64_t seq) {
  auto& lv = levels_[l];
  if (seq < lv.front_seq) return nullptr;
  const auto index = seq - lv.front_seq;
  if (index >= lv.slots.size()) return nullptr;
  auto& s = lv.slots[index];
  return s.request ? &s : nullptr;
}

batch_queue::group& batch_queue::group_for(const inference_request& request) {
  const auto hash = shape_hash(request, options_);
  auto [first, last] = groups_.equal_range(hash);
  for (auto it = first; it != last; ++it) {
    if (it->second->accepts(request)) return *it->second;
  }
  auto made = std::make_unique<group>();
  made->hash = hash;
  for (const auto& input : request.inputs) {
    made->inputs.push_back({input.name, input.type, input.shape, options_.is_ragged(input.name)});
  }
  made->seqs.resize(levels_.size());
  return *groups_.emplace(hash, std::move(made))->second;
}

void batch_queue::release_group(group& g) {
  g.release_pending = false;
  if (g.live != 0) return;
  for (auto& seqs : g.seqs) seqs.clear();
  if (groups_.size() <= max_groups_kept) return;
  auto [first, last] = groups_.equal_range(g.hash);
  for (auto it = first; it != last; ++it) {
    if (it->second.get() == &g) {
      groups_.erase(it);
      return;
    }
  }
}

// Removes a live request. Groups and levels are tidied at the end of the
// poll, so sequence numbers and group queues stay valid while one runs.
request_ptr batch_queue::take(std::uint32_t l, std::uint64_t seq) {
  auto* s = live_slot(l, seq);
  auto request = std::move(s->request);
  auto& g = *s->batch_group;
  s->batch_group = nullptr;
  if (--g.live == 0 && !g.release_pending) {
    g.release_pending = true;
    emptied_.push_back(&g);
  }
  auto& lv = levels_[l];
  --lv.live;
  lv.rows -= s->rows;
  --size_;
  rows_ -= s->rows;
  if (s->in_deadlines) --live_deadlines_;
  pop_holes(l);
  return request;
}

void batch_queue::pop_holes(std::uint32_t l) {
  auto& lv = levels_[l];
  while (!lv.slots.empty() && !lv.slots.front().request) {
    lv.slots.pop_front();
    ++lv.front_seq;
  }
}

// Renumbers a level whose holes outnumber its requests: O(n), after at least
// n removals, so O(1) per removal.
void batch_queue::compact(std::uint32_t l) {
  auto& lv = levels_[l];
  std::deque<slot> kept;
  for (auto& s : lv.slots) {
    if (s.request) kept.push_back(std::move(s));
  }
  lv.slots = std::move(kept);
  lv.sweep_seq = lv.front_seq;
  for (auto& [hash, g] : groups_) g->seqs[l].clear();
  for (std::size_t i = 0; i < lv.slots.size(); ++i) lv.slots[i].batch_group->seqs[l].push_back(lv.front_seq + i);
  rebuild_deadlines();
}

void batch_queue::rebuild_deadlines() {
  deadlines_.clear();
  for (std::uint32_t l = 0; l < levels_.size(); ++l) {
    const auto& lv = levels_[l];
    for (std::size_t i = 0; i < lv.slots.size(); ++i) {
      const auto& s = lv.slots[i];
      if (s.request && s.in_deadlines) deadlines_.push_back({*s.request->deadline, l, lv.front_seq + i});
    }
  }
  std::make_heap(deadlines_.begin(), deadlines_.end(), std::greater<>{});
  live_deadlines_ = deadlines_.size();
}

void batch_queue::tidy() {
  for (auto* g : emptied_) release_group(*g);
  emptied_.clear();
  for (std::uint32_t l = 0; l < levels_.size(); ++l) {
    if (levels_[l].slots.size() > 2 * levels_[l].live + 64) compact(l);
  }
  // Entries of requests that left before their deadline pile up in the heap.
  if (deadlines_.size() > 2 * live_deadlines_ + 64) rebuild_deadlines();
}

std::optional<error> batch_queue::push(request_ptr& request, clock::time_point now) {
  if (request->priority > options_.priority_levels) {
    return make_error(error_code::invalid_argument,
                      "priority " + std::to_string(request->priority) + " is out of range: model '" + request->model +
                          "' has " + std::to_string(options_.priority_levels) + " priority level(s)");
  }
  const auto l = static_cast<std::uint32_t>(options_.level_of(request->priority) - 1);
  const auto& policy = options_.policy_for_level(l + 1);
  if (policy.max_queue_size != 0 && levels_[l].live >= policy.max_queue_size) {
    return error{error_code::unavailable,
                 "model '" + request->model + "' queue is full (" + std::to_string(policy.max_queue_size) +
                     " requests at priority level " + std::to_string(l + 1) + ")",
                 retry_after()};
  }
  const std::size_t max_queued = options_.admission.max_queue_size != 0 ? options_.admission.max_queue_size
                                                                        : admission_options::default_max_queue_size;
  if (size_ >= max_queued) {
    return error{error_code::unavailable,
                 "model '" + request->model + "' queue is full (" + std::to_string(max_queued) + " requests)",
                 retry_after()};
  }
  const auto rows = rows_of(*request);
  // Admission by predicted wait: the rows queued at this level and above
  // run first, at the rate the model has been draining its queue.
  std::size_t ahead = 0;
  for (std::uint32_t k = 0; k <= l; ++k) ahead += levels_[k].rows;
  if (const auto wait = predicted_wait(ahead)) {
    const bool has_deadline = policy.reject_expired && request->deadline;
    const auto budget = has_deadline ? *request->deadline - now
                        : options_.admission.max_queue_wait.count() != 0
                            ? clock::duration(options_.admission.max_queue_wait)
                            : clock::duration(admission_options::default_max_queue_wait);
    if (*wait > budget) {
      using ms = std::chrono::milliseconds;
      return error{error_code::unavailable,
                   "model '" + request->model + "' is overloaded: its queue is expected to take " +
                       std::to_string(std::chrono::duration_cast<ms>(*wait).count()) +
                       " ms to reach this request, longer than its " +
                       std::to_string(std::max<std::int64_t>(0, std::chrono::duration_cast<ms>(budget).count())) +
                       " ms " + (has_deadline ? "timeout" : "queue wait limit"),
                   retry_after()};
    }
  }
  arrivals_.record(rows, now);

  auto& lv = levels_[l];
  const std::uint64_t seq = lv.front_seq + lv.slots.size();
  auto& g = group_for(*request);
  g.seqs[l].push_back(seq);
  ++g.live;
  const bool tracked = policy.reject_expired && request->deadline.has_value();
  if (tracked) {
    deadlines_.push_back({*request->deadline, l, seq});
    std::push_heap(deadlines_.begin(), deadlines_.end(), std::greater<>{});
    ++live_deadlines_;
  }
  lv.slots.push_back({std::move(request), &g, rows, tracked});
  ++lv.live;
  lv.rows += rows;
  ++size_;
  rows_ += rows;
  return std::nullopt;
}

void batch_queue::expire(clock::time_point now, decision& out) {
  while (!deadlines_.empty()) {
    const auto top = deadlines_.front();
    if (live_slot(top.level, top.seq) && top.deadline > now) break;
    std::pop_heap(deadlines_.begin(), deadlines_.end(), std::greater<>{});
    deadlines_.pop_back();
    if (live_slot(top.level, top.seq)) out.expired.push_back(take(top.level, top.seq));
  }
}

void batch_queue::sweep_cancelled(decision& out) {
  for (std::uint32_t l = 0; l < levels_.size(); ++l) {
    auto& lv = levels_[l];
    auto cursor = std::max(lv.sweep_seq, lv.front_seq);
    for (std::size_t checked = 0; checked < sweep_per_poll; ++checked, ++cursor) {
      if (cursor - lv.front_seq >= lv.slots.size()) {
        cursor = lv.front_seq;  // start over from the front next time
        break;
      }
      if (auto* s = live_slot(l, cursor); s && s->request->cancellation->cancelled()) {
        out.cancelled.push_back(take(l, cursor));
      }
    }
    lv.sweep_seq = cursor;
  }
}

std::optional<batch_queue::pick> batch_queue::head(decision& out) {
  for (std::uint32_t l = 0; l < levels_.size(); ++l) {
    auto& lv = levels_[l];
    pop_holes(l);
    while (!lv.slots.empty()) {
      if (!lv.slots.front().request->cancellation->cancelled()) return pick{l, lv.front_seq};
      out.cancelled.push_back(take(l, lv.front_seq));  // pops the holes behind it too
    }
  }
  return std::nullopt;
}

batch_queue::decision batch_queue::poll(clock::time_point now, bool instance_free) {
  decision out;
  expire(now, out);
  sweep_cancelled(out);
  auto wake = [&](clock::time_point t) {
    if (!out.wake_at || t < *out.wake_at) out.wake_at = t;
  };
  if (!deadlines_.empty()) wake(deadlines_.front().deadline);  // expire() left a live entry on top

  const auto leader = instance_free ? head(out) : std::nullopt;
  if (!leader) {
    tidy();
    return out;
  }

  // The head of the highest non-empty level leads the batch; requests of
  // its group follow in priority order, then arrival order.
  auto& g = *live_slot(leader->level, leader->seq)->batch_group;
  const bool unbatched = options_.max_batch_size == 0;
  std::vector<pick> picks;
  std::size_t rows = 0;
  clock::time_point oldest_arrival = clock::time_point::max();
  std::optional<clock::time_point> batch_deadline;
  for (std::uint32_t l = leader->level; l < levels_.size() && rows < target_rows_; ++l) {
    auto& seqs = g.seqs[l];
    while (!seqs.empty() && !live_slot(l, seqs.front())) seqs.pop_front();
    std::size_t skipped = 0;
    for (std::size_t i = 0; i < seqs.size() && rows < target_rows_; ++i) {
      auto* s = live_slot(l, seqs[i]);
      if (!s) continue;
      const auto& request = *s->request;
      if (request.cancellation->cancelled()) {
        out.cancelled.push_back(take(l, seqs[i]));
        continue;
      }
      if (!picks.empty() && rows + s->rows > target_rows_) {
        if (++skipped > max_skipped) break;
        continue;
      }
      picks.push_back({l, seqs[i]});
      rows += s->rows;
      oldest_arrival = std::min(oldest_arrival, request.arrival);
      if (request.deadline && (!batch_deadline || *request.deadline < *batch_deadline)) {
        batch_deadline = request.deadline;
      }
      if (unbatched) break;
    }
    if (unbatched && !picks.empty()) break;
  }

  bool dispatch = !picks.empty() && (unbatched || rows >= target_rows_ || options_.max_queue_delay.count() == 0);
  if (!picks.empty() && !dispatch) {
    // max_queue_delay bounds the wait; the deadline-aware start and the
    // expected gain of more rows decide whether to wait at all.
    auto due = oldest_arrival + options_.max_queue_delay;
    if (batch_deadline) due = std::min(due, *batch_deadline - execution_times_.estimate(rows));
    std::optional<clock::duration> wait;
    if (due > now && options_.wait_for_max_queue_delay) {
      wait = due - now;
    } else if (due > now) {
      wait = worth_waiting(
          {rows, target_rows_, arrivals_.rows_per_second(now), arrivals_.rows_per_arrival(), due, now},
          execution_times_);
    }
    if (!wait) {
      dispatch = true;
    } else {
      // A floor keeps the timer from firing for every microsecond of a wait.
      wake(std::min(due, now + std::max<clock::duration>(*wait, std::chrono::microseconds(20))));
    }
  }
  if (dispatch) {
    out.batch.reserve(picks.size());
    for (const auto& p : picks) out.batch.push_back(take(p.level, p.seq));
  }
  tidy();
  return out;
}

void batch_queue::record_execution(std::size_t batch_rows, std::size_t requests, clock::duration elapsed,
                                   clock::time_point now) {
  // A model that does not batch counts requests, as rows_of() does: its
  // dim 0 is part of each request's own shape.
  if (options_.max_batch_size == 0) batch_rows = requests;
  execution_times_.record(batch_rows, elapsed);
  // Completions are only as fast as the model while requests wait for it;
  // otherwise their rate is the arrival rate, not the capacity.
  const bool backlogged = size_ > 0;
  if (backlogged && last_backlogged_completion_) {
    const double seconds = std::chrono::duration<double>(now - *last_backlogged_completion_).count();
    if (seconds > 0) {
      // Gaps and rows are smoothed apart: a mean of rates overstates the rate.
      const bool first = drain_rows_per_second_ == 0;
      drain_gap_seconds_ = first ? seconds : (1.0 - smoothing) * drain_gap_seconds_ + smoothing * seconds;
      drain_rows_ = first ? static_cast<double>(batch_rows)
                          : (1.0 - smoothing) * drain_rows_ + smoothing * static_cast<double>(batch_rows);
      drain_rows_per_second_ = drain_rows_ / drain_gap_seconds_;
    }
  }
  if (backlogged) {
    last_backlogged_completion_ = now;
  } else {
    last_backlogged_completion_.reset();
  }
}

std::optional<clock::duration> batch_queue::predicted_wait(std::size_t rows_ahead) const {
  if (rows_ahead == 0) return clock::duration::zero();
  double rate = drain_rows_per_second_;
  if (rate <= 0) {
    // Not yet seen backlogged: the instances' measured execution times.
    const auto rows = std::min(rows_ahead, target_rows_);
    const double seconds = std::chrono::duration<double>(execution_times_.estimate(rows)).count();
    if (seconds <= 0) return std::nullopt;
    rate = static_cast<double>(options_.instances) * static_cast<double>(rows) / seconds;
  }
  return std::chrono::duration_cast<clock::duration>(
      std::chrono::duration<double>(static_cast<double>(rows_ahead) / rate));
}

std::chrono::seconds batch_queue::retry_after() const {
  const auto wait = predicted_wait(rows_);
  if (!wait) return std::chrono::seconds(1);
  const double seconds = std::ceil(std::chrono::duration<double>(*wait).count());
  return std::chrono::seconds(std::max<std::int64_t>(1, static_cast<std::int64_t>(seconds)));
}

}  // namespace surge
