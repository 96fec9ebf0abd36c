#pragma once

#include <atomic>
#include <optional>
#include <vector>

#include "core/generation.hpp"
#include "core/status.hpp"
#include "core/tensor.hpp"

namespace surge {

struct inference_response {
  std::vector<tensor> outputs;
  // Set by generative models, beside a `text_output` tensor holding the same text.
  std::optional<generation_chunk> generation;
};

// Receives 1..N responses, then exactly one final call. Classic infer sends
// one response then finish(nullopt); streaming sends many. Implementations
// may be called from any thread and must not block.
class response_sink {
 public:
  virtual ~response_sink() = default;
  virtual void send(inference_response response) = 0;
  // nullopt: success. Called exactly once; nothing is sent after it.
  virtual void finish(std::optional<error> failure) = 0;
};

}  // namespace surge
