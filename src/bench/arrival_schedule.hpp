#pragma once

// When an open-loop run means to send each request. The times are fixed in
// advance of any response, so a slow server cannot slow the schedule down:
// a request that leaves late still has its latency counted from the time it
// was due (see docs/bench.md, "coordinated omission").

#include <chrono>
#include <cstdint>
#include <random>

namespace surge::bench {

enum class arrival_process {
  constant,  // exactly 1/rate apart
  poisson,   // exponentially distributed gaps with mean 1/rate: independent arrivals, as from many users
};

class arrival_schedule {
 public:
  // rate_per_second > 0. The seed makes a Poisson schedule reproducible.
  arrival_schedule(arrival_process process, double rate_per_second, std::uint64_t seed = 1);

  // Offset from the start of the schedule of the next request, increasing
  // (constant) or non-decreasing (Poisson) from call to call.
  std::chrono::nanoseconds next();

 private:
  arrival_process process_;
  double mean_gap_ns_;
  std::uint64_t sent_{0};  // constant: the i-th send is at i * gap, so rounding never accumulates
  double elapsed_ns_{0};   // poisson: sum of the gaps drawn so far
  std::mt19937_64 random_;
  std::exponential_distribution<double> gap_;
};

}  // namespace surge::bench
