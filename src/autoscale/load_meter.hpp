#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "autoscale/load_sample.hpp"

namespace surge::autoscale {

// What batches of one size cost, summed since the model loaded.
struct batch_cost_point {
  std::uint32_t rows{0};
  std::uint64_t count{0};
  double seconds{0};  // summed over the `count` batches
};

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
  // Successful batches by size since load (index: rows; 0 unused).
  std::vector<batch_cost_point> by_rows;
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

// A replica's batch size and its predicted time at full load.
struct batch_capacity {
  double rows{0};
  std::chrono::microseconds service{0};
};

// At low load a replica runs small batches, and rows ÷ time of those
// understates what it serves once batches fill. From batches of at least two
// sizes (each seen `min_batches` times) a line t(b) = t0 + c·b is fitted,
// weighted by count, and the replica's batch at full load is taken as
// max_rows, but no further than 4× the largest size seen (a line is not
// trusted far beyond its points). nullopt: too few sizes measured, or a
// batch predicted no faster per row than those measured.
std::optional<batch_capacity> full_batch_capacity(const std::vector<batch_cost_point>& points,
                                                  std::uint32_t max_rows, std::uint64_t min_batches = 8);

}  // namespace surge::autoscale
