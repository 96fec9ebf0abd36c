#include "scheduler/dispatch_policy.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>

namespace surge {

namespace {

constexpr double smoothing = 0.2;  // weight of the newest gap

double seconds(clock::duration d) { return std::chrono::duration<double>(d).count(); }

}  // namespace

void arrival_rate::record(std::size_t rows, clock::time_point now) {
  if (last_) {
    const double gap = std::max(0.0, seconds(now - *last_));
    if (measured_) {
      mean_gap_seconds_ = (1.0 - smoothing) * mean_gap_seconds_ + smoothing * gap;
      mean_rows_ = (1.0 - smoothing) * mean_rows_ + smoothing * static_cast<double>(rows);
    } else {
      mean_gap_seconds_ = gap;
      mean_rows_ = static_cast<double>(rows);
      measured_ = true;
    }
  }
  last_ = now;
}

double arrival_rate::rows_per_second(clock::time_point now) const {
  if (!measured_) return 0.0;
  // The silence since the last arrival counts as a gap already under way.
  const double gap = std::max(mean_gap_seconds_, seconds(now - *last_));
  // Arrivals closer than a microsecond apart are one burst, not an infinite rate.
  return mean_rows_ / std::max(gap, 1e-6);
}

std::optional<clock::duration> worth_waiting(const dispatch_inputs& in, const execution_time_model& times) {
  if (in.queued_rows == 0 || in.queued_rows >= in.target_rows || in.due <= in.now) return std::nullopt;
  if (in.arrival_rows_per_second <= 0.0 || !times.measured()) return std::nullopt;
  const double r = static_cast<double>(in.queued_rows);
  const double t_r = seconds(times.estimate(in.queued_rows));
  const double budget = seconds(in.due - in.now);
  // Candidate waits: until 1, 2, 4, ... more rows are expected, up to the
  // target. Total latency of the r queued rows and m newcomers:
  //   now:  r rows finish at T(r); the m newcomers start when the instance
  //         is free again, or when they arrive if that is later, and take T(m);
  //   wait: all r+m rows start after the wait and take T(r+m).
  const std::size_t room = in.target_rows - in.queued_rows;
  // The smallest wait worth considering brings one more arrival.
  const auto first = std::clamp<std::size_t>(static_cast<std::size_t>(std::ceil(in.rows_per_arrival)), 1, room);
  for (std::size_t m = first;; m = std::min(room, m * 2)) {
    const double wait = static_cast<double>(m) / in.arrival_rows_per_second;
    if (wait >= t_r || wait > budget) break;  // past T(r) waiting only adds latency
    const double md = static_cast<double>(m);
    const double run_now = r * t_r + md * (std::max(t_r, wait) + seconds(times.estimate(m)));
    const double run_later = (r + md) * (wait + seconds(times.estimate(in.queued_rows + m)));
    if (run_later < run_now) {
      return std::chrono::duration_cast<clock::duration>(std::chrono::duration<double>(wait));
    }
    if (m == room) break;
  }
  return std::nullopt;
}

}  // namespace surge
