#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "core/status.hpp"

namespace surge {

struct generation_limits {
  std::uint32_t max_sequences{0};  // KV-cache slots of one instance
  std::uint32_t max_context{0};    // tokens per sequence, prompt included
  std::uint32_t vocab_size{0};
  std::optional<std::int32_t> eos_token;
};

// The model's tokenizer and limits. Thread-safe.
class generation_model {
 public:
  virtual ~generation_model() = default;
  virtual const generation_limits& limits() const = 0;
  virtual std::variant<std::vector<std::int32_t>, error> tokenize(std::string_view text) const = 0;
  virtual std::variant<std::string, error> detokenize(std::span<const std::int32_t> tokens) const = 0;
};

// One instance's KV cache and compute. Called from one scheduler thread only.
// The generative backend ABI (include/surge/backend.h) behind the server's
// seam, so the scheduler is tested with a deterministic engine.
class generation_engine {
 public:
  virtual ~generation_engine() = default;
  virtual std::optional<error> prefill(std::uint32_t slot, std::span<const std::int32_t> tokens,
                                       std::span<float> logits) = 0;
  virtual std::optional<error> step(std::span<const std::uint32_t> slots, std::span<const std::int32_t> tokens,
                                    std::span<const std::uint32_t> positions, std::span<float> logits) = 0;
  virtual void release(std::uint32_t slot) = 0;
};

}  // namespace surge
