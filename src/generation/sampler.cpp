#include "generation/sampler.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace surge {

std::int32_t argmax(std::span<const float> logits) {
  return static_cast<std::int32_t>(std::max_element(logits.begin(), logits.end()) - logits.begin());
}

std::int32_t sampler::sample(std::span<const float> logits, const sampling_parameters& parameters,
                             std::mt19937_64& rng) {
  if (logits.empty()) return 0;
  if (parameters.temperature <= 0.0f || parameters.top_k == 1) return argmax(logits);

  const auto vocab = static_cast<std::int32_t>(logits.size());
  const bool restrict_k = parameters.top_k > 0 && parameters.top_k < logits.size();
  const bool restrict_p = parameters.top_p > 0.0f && parameters.top_p < 1.0f;

  order_.resize(logits.size());
  std::iota(order_.begin(), order_.end(), 0);
  std::size_t kept = logits.size();
  const auto by_logit = [&](std::int32_t a, std::int32_t b) { return logits[a] > logits[b]; };
  if (restrict_k) {
    kept = parameters.top_k;
    std::partial_sort(order_.begin(), order_.begin() + static_cast<std::ptrdiff_t>(kept), order_.end(), by_logit);
  } else if (restrict_p) {
    std::sort(order_.begin(), order_.end(), by_logit);
  }

  // Softmax over the kept candidates, stabilised by their largest logit.
  float top = logits[order_[0]];
  if (!restrict_k && !restrict_p) top = logits[argmax(logits)];
  const double inverse_temperature = 1.0 / static_cast<double>(parameters.temperature);
  weights_.resize(kept);
  double total = 0.0;
  for (std::size_t i = 0; i < kept; ++i) {
    weights_[i] = std::exp((static_cast<double>(logits[order_[i]]) - top) * inverse_temperature);
    total += weights_[i];
  }
  if (restrict_p) {
    // Candidates are sorted, so the nucleus is a prefix.
    double mass = 0.0;
    std::size_t nucleus = 0;
    while (nucleus < kept) {
      mass += weights_[nucleus] / total;
      ++nucleus;
      if (mass >= parameters.top_p) break;
    }
    kept = nucleus;
    total = std::accumulate(weights_.begin(), weights_.begin() + static_cast<std::ptrdiff_t>(kept), 0.0);
  }

  std::uniform_real_distribution<double> uniform(0.0, total);
  double draw = uniform(rng);
  for (std::size_t i = 0; i < kept; ++i) {
    draw -= weights_[i];
    if (draw <= 0.0) return order_[i];
  }
  return std::clamp(order_[kept - 1], 0, vocab - 1);
}

}  // namespace surge
