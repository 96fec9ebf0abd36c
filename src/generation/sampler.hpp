#pragma once

#include <cstdint>
#include <random>
#include <span>
#include <vector>

#include "core/generation.hpp"

namespace surge {

// Picks the next token from one row of logits: greedy at temperature 0,
// otherwise softmax(logits / temperature) restricted to the top_k most likely
// tokens and then to the smallest set whose mass reaches top_p. `scratch` is
// reused between calls so sampling allocates nothing in steady state.
class sampler {
 public:
  std::int32_t sample(std::span<const float> logits, const sampling_parameters& parameters, std::mt19937_64& rng);

 private:
  std::vector<std::int32_t> order_;
  std::vector<double> weights_;
};

std::int32_t argmax(std::span<const float> logits);

}  // namespace surge
