#pragma once

#include <cstdint>
#include <vector>

#include "autoscale/load_sample.hpp"

namespace surge::autoscale {

// Cumulative counts read from one model's metrics at one moment (every
// version of the model summed). Two readings make a load_sample.
struct load_reading {
  clock::time_point at;
  std::uint64_t requests{0};     // ended requests, every outcome
  std::uint64_t batches{0};      // batches that ran
  double batch_seconds{0};       // their summed service time
  double batch_rows{0};          // their summed rows
  // Request latency histogram: upper bounds in seconds and non-cumulative
  // counts (one more than the bounds: the last is +Inf).
  std::vector<double> latency_bounds;
  std::vector<std::uint64_t> latency_counts;
  std::uint64_t backlog{0};      // at `at`: requests waiting for a replica
};

// The quantile q (0..1] of the observations between two histogram readings,
// as the upper bound of the bucket it falls in (the +Inf bucket answers the
// last finite bound). 0 when nothing was observed.
double histogram_quantile(const std::vector<double>& bounds, const std::vector<std::uint64_t>& before,
                          const std::vector<std::uint64_t>& after, double q);

// What happened between `before` and `after`; the replica counts are the
// driver's. Counters that went backwards (a version was reloaded) count
// from zero.
load_sample sample_between(const load_reading& before, const load_reading& after, std::uint32_t live_replicas,
                           std::uint32_t warming_replicas);

}  // namespace surge::autoscale
