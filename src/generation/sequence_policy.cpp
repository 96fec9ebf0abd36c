#include "generation/sequence_policy.hpp"

#include <algorithm>
#include <optional>

namespace surge {

step_plan plan_step(const sequence_policy_options& options, std::span<const waiting_sequence> waiting,
                    std::span<const running_sequence> running) {
  step_plan plan;
  if (waiting.empty()) return plan;
  if (options.static_batching && !running.empty()) return plan;

  const std::size_t max_running = std::max<std::uint32_t>(1, options.max_running);
  std::size_t occupied = running.size();
  // Each running sequence decodes one token this step.
  std::int64_t budget = static_cast<std::int64_t>(options.max_tokens_per_step) - static_cast<std::int64_t>(occupied);
  std::vector<bool> preempted(running.size(), false);

  for (std::size_t w = 0; w < waiting.size(); ++w) {
    const auto& candidate = waiting[w];
    const bool alone = occupied == 0 && plan.admit.empty();
    if (static_cast<std::int64_t>(candidate.prefill_tokens) > budget && !alone) break;

    if (occupied < max_running) {
      plan.admit.push_back(w);
      ++occupied;
      budget -= candidate.prefill_tokens;
      continue;
    }
    if (options.static_batching) break;

    // No free slot: the lowest-priority running sequence below the candidate's level.
    std::optional<std::size_t> victim;
    for (std::size_t r = 0; r < running.size(); ++r) {
      if (preempted[r] || running[r].level <= candidate.level) continue;
      if (!victim || running[r].level > running[*victim].level ||
          (running[r].level == running[*victim].level && running[r].order > running[*victim].order)) {
        victim = r;
      }
    }
    if (!victim) break;
    preempted[*victim] = true;
    plan.preempt.push_back(*victim);
    plan.admit.push_back(w);
    budget += 1;  // the victim no longer decodes this step
    budget -= candidate.prefill_tokens;
  }
  return plan;
}

}  // namespace surge
