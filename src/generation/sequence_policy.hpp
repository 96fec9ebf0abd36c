#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace surge {

// What the continuous batcher may do in one step. Pure: the sequence
// scheduler feeds it the waiting and running sequences and applies its plan,
// so every admission and preemption rule is tested without a backend.
struct sequence_policy_options {
  std::uint32_t max_running{64};             // sequences holding a KV-cache slot
  std::uint32_t max_tokens_per_step{2048};   // prefill tokens + one per running sequence
  bool static_batching{false};               // admit only when nothing runs
};

struct waiting_sequence {
  std::uint32_t level{1};   // priority level; 1 is the highest
  std::uint64_t order{0};   // arrival order, for FIFO within a level
  std::uint32_t prefill_tokens{0};
};

struct running_sequence {
  std::uint32_t level{1};
  std::uint64_t order{0};
};

struct step_plan {
  std::vector<std::size_t> admit;    // indices into the waiting span, in admission order
  std::vector<std::size_t> preempt;  // indices into the running span
};

// `waiting` must be sorted by (level, order). A waiting sequence is admitted
// when a slot is free and its prefill fits the step's token budget; when no
// slot is free it preempts the running sequence of the lowest priority (the
// latest admitted among equals) whose level is strictly lower than its own.
// Admission stops at the first waiting sequence that cannot be admitted, so a
// long prompt is not overtaken forever by short ones; a sequence admitted
// alone may exceed the budget (it would never fit otherwise).
step_plan plan_step(const sequence_policy_options& options, std::span<const waiting_sequence> waiting,
                    std::span<const running_sequence> running);

}  // namespace surge
