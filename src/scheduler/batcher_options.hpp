#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

namespace surge {

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
  // Number of priority levels; level 1 is the highest. 1: one FIFO queue.
  std::uint32_t priority_levels{1};
  std::uint32_t default_priority_level{1};
  // Queued requests (all levels together) beyond which new ones are rejected
  // at once; 0: unbounded.
  std::size_t max_queue_size{0};
  // Applied when a request names no timeout; nullopt: no deadline.
  std::optional<std::chrono::microseconds> default_timeout;
  // Whether a request's own timeout may replace default_timeout.
  bool allow_timeout_override{true};
  // true (REJECT): a request whose deadline passed while queued is answered
  // with deadline_exceeded and never executed. false (DELAY): it stays queued.
  bool reject_expired{true};
};

}  // namespace surge
