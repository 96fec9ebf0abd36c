#include "autoscale/load_meter.hpp"

#include <algorithm>
#include <cmath>

namespace surge::autoscale {

namespace {

template <typename T>
T grown(T before, T after) {
  return after >= before ? after - before : after;
}

}  // namespace

double histogram_quantile(const std::vector<double>& bounds, const std::vector<std::uint64_t>& before,
                          const std::vector<std::uint64_t>& after, double q) {
  std::vector<std::uint64_t> counts(after.size(), 0);
  std::uint64_t total = 0;
  for (std::size_t i = 0; i < after.size(); ++i) {
    counts[i] = grown(i < before.size() ? before[i] : 0, after[i]);
    total += counts[i];
  }
  if (total == 0 || bounds.empty()) return 0;
  const auto rank = static_cast<std::uint64_t>(std::ceil(std::clamp(q, 0.0, 1.0) * static_cast<double>(total)));
  std::uint64_t seen = 0;
  for (std::size_t i = 0; i < counts.size(); ++i) {
    seen += counts[i];
    if (seen >= std::max<std::uint64_t>(rank, 1)) return bounds[std::min(i, bounds.size() - 1)];
  }
  return bounds.back();
}

load_sample sample_between(const load_reading& before, const load_reading& after, std::uint32_t live_replicas,
                           std::uint32_t warming_replicas) {
  load_sample sample;
  sample.at = after.at;
  sample.live_replicas = live_replicas;
  sample.warming_replicas = warming_replicas;
  sample.backlog = after.backlog;
  const double elapsed = std::chrono::duration<double>(after.at - before.at).count();
  if (elapsed > 0) sample.arrival_rate = static_cast<double>(grown(before.requests, after.requests)) / elapsed;
  const auto batches = grown(before.batches, after.batches);
  if (batches > 0) {
    const bool reset = after.batches < before.batches;
    const double seconds = std::max(0.0, after.batch_seconds - (reset ? 0 : before.batch_seconds));
    const double rows = std::max(0.0, after.batch_rows - (reset ? 0 : before.batch_rows));
    sample.batch_service_time = std::chrono::microseconds(static_cast<std::int64_t>(seconds / batches * 1e6));
    sample.mean_batch_size = rows / static_cast<double>(batches);
  }
  const double p99 = histogram_quantile(after.latency_bounds, before.latency_counts, after.latency_counts, 0.99);
  sample.p99_latency = std::chrono::microseconds(static_cast<std::int64_t>(p99 * 1e6));
  return sample;
}

std::optional<batch_capacity> full_batch_capacity(const std::vector<batch_cost_point>& points,
                                                  std::uint32_t max_rows, std::uint64_t min_batches) {
  double w = 0, wx = 0, wy = 0;
  std::uint32_t sizes = 0, largest = 0;
  double best_measured = 0;  // rows per second of the best size measured
  for (const auto& p : points) {
    if (p.rows == 0 || p.count < std::max<std::uint64_t>(min_batches, 1) || !(p.seconds > 0)) continue;
    const double mean = p.seconds / static_cast<double>(p.count);
    const double weight = static_cast<double>(p.count);
    w += weight;
    wx += weight * p.rows;
    wy += weight * mean;
    ++sizes;
    largest = std::max(largest, p.rows);
    best_measured = std::max(best_measured, p.rows / mean);
  }
  if (sizes < 2 || max_rows == 0) return std::nullopt;
  const double mx = wx / w, my = wy / w;
  double sxx = 0, sxy = 0;
  for (const auto& p : points) {
    if (p.rows == 0 || p.count < std::max<std::uint64_t>(min_batches, 1) || !(p.seconds > 0)) continue;
    const double mean = p.seconds / static_cast<double>(p.count);
    const double weight = static_cast<double>(p.count);
    sxx += weight * (p.rows - mx) * (p.rows - mx);
    sxy += weight * (p.rows - mx) * (mean - my);
  }
  double slope = sxx > 0 ? sxy / sxx : 0;
  double intercept = my - slope * mx;
  if (slope < 0) {  // larger batches measured faster: noise; take time as flat
    slope = 0;
    intercept = my;
  }
  if (intercept < 0) {  // through the origin: time proportional to rows
    intercept = 0;
    slope = my / mx;
  }
  const auto rows = std::min<std::uint64_t>(max_rows, 4ull * largest);
  const double seconds = intercept + slope * static_cast<double>(rows);
  // Less than 1% better is no reason to plan on batches not yet seen.
  if (!(seconds > 0) || rows / seconds <= best_measured * 1.01) return std::nullopt;
  return batch_capacity{static_cast<double>(rows),
                        std::chrono::microseconds(static_cast<std::int64_t>(std::ceil(seconds * 1e6)))};
}

}  // namespace surge::autoscale
