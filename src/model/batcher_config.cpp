#include "model/batcher_config.hpp"

#include <algorithm>

namespace surge {

namespace {

queue_policy queue_policy_from(const config::ModelQueuePolicy& policy) {
  queue_policy out;
  out.max_queue_size = policy.max_queue_size();
  if (policy.default_timeout_microseconds() > 0) {
    out.default_timeout = std::chrono::microseconds(policy.default_timeout_microseconds());
  }
  // Without a default timeout a request's own timeout always applies, as in Triton.
  out.allow_timeout_override = policy.allow_timeout_override() || !out.default_timeout;
  out.reject_expired = policy.timeout_action() == config::ModelQueuePolicy::REJECT;
  return out;
}

}  // namespace

batcher_options batcher_options_from(const config::ModelConfig& config) {
  batcher_options options;
  options.max_batch_size = static_cast<std::uint32_t>(std::max(0, config.max_batch_size()));
  if (config.has_dynamic_batching()) {
    const auto& db = config.dynamic_batching();
    for (auto size : db.preferred_batch_size()) options.preferred_batch_sizes.push_back(static_cast<std::uint32_t>(size));
    options.max_queue_delay = std::chrono::microseconds(db.max_queue_delay_microseconds());
    options.wait_for_max_queue_delay = config.dispatch().policy() == config::ModelDispatch::MAX_QUEUE_DELAY;
    if (db.priority_levels() > 0) {
      options.priority_levels = static_cast<std::uint32_t>(db.priority_levels());
      options.default_priority_level =
          db.default_priority_level() > 0 ? static_cast<std::uint32_t>(db.default_priority_level()) : options.priority_levels;
    }
    options.default_queue_policy = queue_policy_from(db.default_queue_policy());
    for (const auto& [level, policy] : db.priority_queue_policy()) {
      options.level_queue_policies[static_cast<std::uint32_t>(level)] = queue_policy_from(policy);
    }
  } else if (config.has_sequence_batching()) {
    // The sequence batcher releases one request per sequence at a time; the
    // queue batches those of different sequences by its strategy's delay.
    const auto& sequence = config.sequence_batching();
    if (sequence.has_oldest()) {
      for (auto size : sequence.oldest().preferred_batch_size()) {
        options.preferred_batch_sizes.push_back(static_cast<std::uint32_t>(size));
      }
      options.max_queue_delay = std::chrono::microseconds(sequence.oldest().max_queue_delay_microseconds());
    } else {
      options.max_queue_delay = std::chrono::microseconds(sequence.direct().max_queue_delay_microseconds());
    }
  } else {
    // Without dynamic batching each request runs alone, as in Triton.
    options.max_batch_size = 0;
  }
  for (const auto& input : config.input()) {
    if (input.allow_ragged_batch()) options.ragged_inputs.push_back(input.name());
  }
  options.admission.max_queue_size = config.admission().max_queue_size();
  options.admission.max_queue_wait = std::chrono::microseconds(config.admission().max_queue_wait_microseconds());
  return options;
}

}  // namespace surge
