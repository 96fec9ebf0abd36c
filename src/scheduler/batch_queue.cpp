#include "scheduler/batch_queue.hpp"

#include <algorithm>
#include <cmath>

namespace surge {

namespace {
constexpr double smoothing = 0.2;  // weight of the newest measurement
}

void execution_time_model::record(std::size_t batch_rows, clock::duration elapsed) {
  if (batch_rows == 0) return;
  batch_rows = std::min(batch_rows, max_tracked);
  if (nanoseconds_by_rows_.size() <= batch_rows) nanoseconds_by_rows_.resize(batch_rows + 1);
  const double ns = static_cast<double>(std::chrono::duration_cast<std::chrono::nanoseconds>(elapsed).count());
  auto& slot = nanoseconds_by_rows_[batch_rows];
  slot = slot ? (1.0 - smoothing) * *slot + smoothing * ns : ns;
}

clock::duration execution_time_model::estimate(std::size_t batch_rows) const {
  batch_rows = std::min(batch_rows, max_tracked);
  for (std::size_t rows = batch_rows; rows < nanoseconds_by_rows_.size(); ++rows) {
    if (nanoseconds_by_rows_[rows]) {
      return std::chrono::nanoseconds(static_cast<std::int64_t>(*nanoseconds_by_rows_[rows]));
    }
  }
  // Only smaller batches were measured: assume time grows linearly with rows.
  for (std::size_t rows = std::min(batch_rows, nanoseconds_by_rows_.size()); rows-- > 1;) {
    if (nanoseconds_by_rows_[rows]) {
      const double scaled = *nanoseconds_by_rows_[rows] * static_cast<double>(batch_rows) / static_cast<double>(rows);
      return std::chrono::nanoseconds(static_cast<std::int64_t>(scaled));
    }
  }
  return clock::duration::zero();
}

batch_queue::batch_queue(batcher_options options) : options_(std::move(options)) {
  if (options_.priority_levels == 0) options_.priority_levels = 1;
  options_.default_priority_level = std::clamp<std::uint32_t>(options_.default_priority_level, 1, options_.priority_levels);
  std::sort(options_.preferred_batch_sizes.begin(), options_.preferred_batch_sizes.end());
  levels_.resize(options_.priority_levels);
}

std::size_t batch_queue::level_of(const inference_request& request) const {
  return options_.level_of(request.priority) - 1;
}

std::optional<error> batch_queue::push(request_ptr& request, clock::time_point now) {
  if (request->priority > options_.priority_levels) {
    return make_error(error_code::invalid_argument,
                      "priority " + std::to_string(request->priority) + " is out of range: model '" + request->model +
                          "' has " + std::to_string(options_.priority_levels) + " priority level(s)");
  }
  const auto level = level_of(*request);
  const auto max_queue_size = options_.policy_for_level(static_cast<std::uint32_t>(level + 1)).max_queue_size;
  if (max_queue_size != 0 && levels_[level].size() >= max_queue_size) {
    return error{error_code::unavailable,
                 "model '" + request->model + "' queue is full (" + std::to_string(max_queue_size) +
                     " requests at priority level " + std::to_string(level + 1) + ")",
                 retry_after()};
  }
  levels_[level].push_back(std::move(request));
  ++size_;
  return std::nullopt;
}

bool batch_queue::can_share_batch(const inference_request& a, const inference_request& b) const {
  if (a.inputs.size() != b.inputs.size()) return false;
  for (std::size_t i = 0; i < a.inputs.size(); ++i) {
    const auto& sa = a.inputs[i].shape;
    const auto& sb = b.inputs[i].shape;
    if (a.inputs[i].name != b.inputs[i].name || a.inputs[i].type != b.inputs[i].type) return false;
    if (sa.size() != sb.size()) return false;
    // Rows (dim 0) may differ; every other dimension must match to concatenate.
    if (!std::equal(sa.begin() + (sa.empty() ? 0 : 1), sa.end(), sb.begin() + (sb.empty() ? 0 : 1))) return false;
  }
  // Requests selecting different outputs still batch: outputs are filtered per request.
  return true;
}

batch_queue::decision batch_queue::poll(clock::time_point now, bool instance_free) {
  decision out;

  // Answer what must not run, and find the earliest deadline still queued.
  std::optional<clock::time_point> earliest_deadline;
  for (std::size_t l = 0; l < levels_.size(); ++l) {
    auto& level = levels_[l];
    const bool reject_expired = options_.policy_for_level(static_cast<std::uint32_t>(l + 1)).reject_expired;
    for (auto it = level.begin(); it != level.end();) {
      auto& request = *it;
      if (request->cancellation->cancelled()) {
        out.cancelled.push_back(std::move(request));
      } else if (reject_expired && request->deadline && *request->deadline <= now) {
        out.expired.push_back(std::move(request));
      } else {
        if (reject_expired && request->deadline && (!earliest_deadline || *request->deadline < *earliest_deadline)) {
          earliest_deadline = request->deadline;
        }
        ++it;
        continue;
      }
      it = level.erase(it);
      --size_;
    }
  }

  auto wake = [&](clock::time_point t) {
    if (!out.wake_at || t < *out.wake_at) out.wake_at = t;
  };
  if (earliest_deadline) wake(*earliest_deadline);
  if (!instance_free || size_ == 0) return out;

  // The head of the highest non-empty level leads the batch; compatible
  // requests follow in priority order, then arrival order.
  const inference_request* head = nullptr;
  for (auto& level : levels_) {
    if (!level.empty()) {
      head = level.front().get();
      break;
    }
  }

  struct pick {
    std::size_t level;
    std::size_t index;
  };
  std::vector<pick> picks;
  std::size_t rows = 0;
  clock::time_point oldest_arrival = head->arrival;
  std::optional<clock::time_point> batch_deadline;
  const std::size_t limit = options_.max_batch_size == 0 ? 1 : options_.max_batch_size;
  const std::size_t largest_preferred =
      options_.preferred_batch_sizes.empty() ? limit : std::min<std::size_t>(options_.preferred_batch_sizes.back(), limit);

  for (std::size_t l = 0; l < levels_.size() && rows < largest_preferred; ++l) {
    for (std::size_t i = 0; i < levels_[l].size() && rows < largest_preferred; ++i) {
      const auto& request = *levels_[l][i];
      const auto request_rows = options_.max_batch_size == 0 ? 1 : static_cast<std::size_t>(request.batch_rows());
      if (!picks.empty() && (rows + request_rows > largest_preferred || !can_share_batch(*head, request))) continue;
      picks.push_back({l, i});
      rows += request_rows;
      oldest_arrival = std::min(oldest_arrival, request.arrival);
      if (request.deadline && (!batch_deadline || *request.deadline < *batch_deadline)) batch_deadline = request.deadline;
      if (options_.max_batch_size == 0) break;
    }
  }

  bool dispatch = options_.max_batch_size == 0 || rows >= largest_preferred ||
                  options_.max_queue_delay == std::chrono::microseconds::zero();
  if (!dispatch) {
    clock::time_point due = oldest_arrival + options_.max_queue_delay;
    // Deadline-aware: start early when waiting longer would make the batch's
    // earliest deadline miss, given how long a batch this size takes.
    if (batch_deadline) due = std::min(due, *batch_deadline - execution_times_.estimate(rows));
    if (due <= now) {
      dispatch = true;
    } else {
      wake(due);
    }
  }
  if (!dispatch) return out;

  out.batch.reserve(picks.size());
  for (const auto& p : picks) out.batch.push_back(std::move(levels_[p.level][p.index]));
  for (auto& level : levels_) {
    std::erase_if(level, [](const request_ptr& r) { return r == nullptr; });
  }
  size_ -= picks.size();
  return out;
}

void batch_queue::record_execution(std::size_t batch_rows, std::size_t requests, clock::duration elapsed,
                                   clock::time_point now) {
  execution_times_.record(batch_rows, elapsed);
  if (last_completion_) {
    const double seconds = std::chrono::duration<double>(now - *last_completion_).count();
    if (seconds > 0) {
      const double rate = static_cast<double>(requests) / seconds;
      drain_rate_per_second_ =
          drain_rate_per_second_ == 0 ? rate : (1.0 - smoothing) * drain_rate_per_second_ + smoothing * rate;
    }
  }
  last_completion_ = now;
}

std::chrono::seconds batch_queue::retry_after() const {
  if (drain_rate_per_second_ <= 0) return std::chrono::seconds(1);
  const double seconds = std::ceil(static_cast<double>(size_) / drain_rate_per_second_);
  return std::chrono::seconds(std::max<std::int64_t>(1, static_cast<std::int64_t>(seconds)));
}

}  // namespace surge
