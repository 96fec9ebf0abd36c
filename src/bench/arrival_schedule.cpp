#include "bench/arrival_schedule.hpp"

#include <cmath>

namespace surge::bench {

arrival_schedule::arrival_schedule(arrival_process process, double rate_per_second, std::uint64_t seed)
    : process_(process), mean_gap_ns_(1e9 / rate_per_second), random_(seed), gap_(rate_per_second / 1e9) {}

std::chrono::nanoseconds arrival_schedule::next() {
  double at_ns = 0;
  if (process_ == arrival_process::constant) {
    at_ns = static_cast<double>(sent_) * mean_gap_ns_;
  } else {
    // The first request goes at once, like the constant schedule's.
    if (sent_ > 0) elapsed_ns_ += gap_(random_);
    at_ns = elapsed_ns_;
  }
  ++sent_;
  return std::chrono::nanoseconds(std::llround(at_ns));
}

}  // namespace surge::bench
