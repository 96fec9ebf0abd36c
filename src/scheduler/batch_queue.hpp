#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <unordered_map>
#include <vector>

#include "core/inference_request.hpp"
#include "core/status.hpp"
#include "scheduler/batcher_options.hpp"
#include "scheduler/dispatch_policy.hpp"
#include "scheduler/execution_time_model.hpp"

namespace surge {

// The batching policy for one model version, without threads or clocks:
// the caller passes `now` and says whether an instance is free, which makes
// every decision reproducible in tests.
//
// Every operation costs O(log n) in the queue's length n, or O(k) in the
// rows it dispatches, never a rescan of the queue: requests that can share a
// batch are kept in their own group, deadlines in a heap, and cancelled
// requests are found by a bounded sweep per poll (docs/batching.md).
class batch_queue {
 public:
  explicit batch_queue(batcher_options options);
  ~batch_queue();
  batch_queue(const batch_queue&) = delete;
  batch_queue& operator=(const batch_queue&) = delete;

  // Admits a request or refuses it at once: unavailable (with retry_after)
  // when its level or the whole queue is full, or when its predicted wait
  // would end after its deadline (or after admission.max_queue_wait);
  // invalid_argument for a priority out of range. On refusal `request` is
  // left with the caller, who answers it.
  std::optional<error> push(request_ptr& request, clock::time_point now);

  struct decision {
    // Requests to run together, in queue order; empty when none is due.
    std::vector<request_ptr> batch;
    // Requests that must be answered without running.
    std::vector<request_ptr> expired;
    std::vector<request_ptr> cancelled;
    // When the queue wants to be polled again (a delay or deadline ends).
    std::optional<clock::time_point> wake_at;
  };

  // Drops expired requests (and the cancelled ones it comes across) and,
  // when an instance is free, forms the next batch if one is due.
  decision poll(clock::time_point now, bool instance_free);

  // Feeds the deadline-aware policy, the predicted wait and Retry-After.
  void record_execution(std::size_t batch_rows, std::size_t requests, clock::duration elapsed, clock::time_point now);

  std::size_t size() const { return size_; }
  const batcher_options& options() const { return options_; }
  std::chrono::seconds retry_after() const;
  // How long a request queued behind `rows_ahead` rows is expected to wait;
  // nullopt until something was measured.
  std::optional<clock::duration> predicted_wait(std::size_t rows_ahead) const;

 private:
  struct group;
  struct slot {
    request_ptr request;  // null: left the queue
    group* batch_group{nullptr};
    std::size_t rows{0};
    bool in_deadlines{false};  // has an entry in deadlines_
  };
  // One priority level, in arrival order. A request is addressed by its
  // sequence number; a slot that left stays as a hole until the front passes
  // it or the level is compacted.
  struct level {
    std::deque<slot> slots;
    std::uint64_t front_seq{0};
    std::size_t live{0};
    std::size_t rows{0};
    std::uint64_t sweep_seq{0};
  };
  struct deadline_entry {
    clock::time_point deadline;
    std::uint32_t level;
    std::uint64_t seq;
    bool operator>(const deadline_entry& other) const { return deadline > other.deadline; }
  };
  struct pick {
    std::uint32_t level;
    std::uint64_t seq;
  };

  slot* live_slot(std::uint32_t level, std::uint64_t seq);
  group& group_for(const inference_request& request);
  void release_group(group& g);
  request_ptr take(std::uint32_t level, std::uint64_t seq);
  void pop_holes(std::uint32_t level);
  void compact(std::uint32_t level);
  void rebuild_deadlines();
  void tidy();
  void expire(clock::time_point now, decision& out);
  void sweep_cancelled(decision& out);
  std::optional<pick> head(decision& out);
  std::size_t rows_of(const inference_request& request) const;

  batcher_options options_;
  std::size_t target_rows_;
  std::vector<level> levels_;  // index 0: priority level 1
  std::unordered_multimap<std::uint64_t, std::unique_ptr<group>> groups_;
  std::vector<deadline_entry> deadlines_;  // a min-heap; entries of requests that left are skipped
  std::size_t live_deadlines_{0};
  std::vector<group*> emptied_;  // groups whose last request left during this poll
  std::size_t size_{0};
  std::size_t rows_{0};
  execution_time_model execution_times_;
  arrival_rate arrivals_;
  // Rows completed per second while the queue was backlogged, smoothed: the
  // capacity actually delivered, which drives Retry-After and the predicted wait.
  double drain_rows_per_second_{0.0};
  double drain_gap_seconds_{0.0};
  double drain_rows_{0.0};
  std::optional<clock::time_point> last_backlogged_completion_;
};

}  // namespace surge
