#pragma once

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace surge {

// How one priority level's queue treats its requests (Triton's
// ModelQueuePolicy).
struct queue_policy {
  // Requests queued at this level beyond which new ones are refused at once;
  // 0: unbounded.
  std::size_t max_queue_size{0};
  // Applied when a request names no timeout; nullopt: no deadline.
  std::optional<std::chrono::microseconds> default_timeout;
  // Whether a request's own timeout may replace default_timeout.
  bool allow_timeout_override{true};
  // true (REJECT): a request whose deadline passed while queued is answered
  // with deadline_exceeded and never executed. false (DELAY): it stays queued.
  bool reject_expired{true};
};

// Admission to one model version's whole queue, beyond the per-level
// policies (surge extension `admission`, which models that do not batch can
// set too).
struct admission_options {
  // Requests queued at every level together beyond which new ones are
  // refused at once; 0: default_max_queue_size.
  std::size_t max_queue_size{0};
  // A request without a deadline whose predicted queue wait is longer is
  // refused at once; 0: default_max_queue_wait. A request with a deadline is
  // refused when its predicted wait ends after the deadline.
  std::chrono::microseconds max_queue_wait{0};

  static constexpr std::size_t default_max_queue_size = 16384;
  static constexpr std::chrono::microseconds default_max_queue_wait{10'000'000};
};

// How one model version's requests are queued and batched. Built from the
// model's config.pbtxt (dynamic_batching, max_batch_size).
struct batcher_options {
  // Largest number of rows (dim 0) in one batch; 0: the model does not batch
  // and every request runs alone.
  std::uint32_t max_batch_size{0};
  // A batch that reaches the largest of these is dispatched without waiting.
  std::vector<std::uint32_t> preferred_batch_sizes;
  // 0: dispatch whatever is queued as soon as an instance is free.
  std::chrono::microseconds max_queue_delay{0};
  // true: a partial batch waits for max_queue_delay (Triton's rule); false:
  // only as long as waiting is expected to pay (dispatch_policy.hpp).
  bool wait_for_max_queue_delay{false};
  // Number of priority levels; level 1 is the highest. 1: one FIFO queue.
  std::uint32_t priority_levels{1};
  std::uint32_t default_priority_level{1};
  // Every level's policy unless level_queue_policies names the level.
  queue_policy default_queue_policy;
  std::map<std::uint32_t, queue_policy> level_queue_policies;
  admission_options admission;
  // Instances that execute batches side by side; the predicted wait divides by it.
  std::size_t instances{1};
  // Inputs (config allow_ragged_batch) whose dims after the first do not
  // keep requests apart: requests differing only there share a batch, and
  // the backend pads them to the batch's longest.
  std::vector<std::string> ragged_inputs;

  bool is_ragged(std::string_view input) const {
    return std::find(ragged_inputs.begin(), ragged_inputs.end(), input) != ragged_inputs.end();
  }

  // The level a request of this priority queues at (0: the default level).
  std::uint32_t level_of(std::uint32_t priority) const { return priority == 0 ? default_priority_level : priority; }
  const queue_policy& policy_for_level(std::uint32_t level) const {
    const auto it = level_queue_policies.find(level);
    return it == level_queue_policies.end() ? default_queue_policy : it->second;
  }
};

}  // namespace surge
