#pragma once

#include <cstddef>
#include <optional>

#include "core/inference_request.hpp"
#include "scheduler/execution_time_model.hpp"

namespace surge {

// Rows arriving per second for one model, smoothed over recent arrivals. The
// estimate decays by itself while nothing arrives: silence longer than the
// usual gap lowers the rate, so a burst that ended stops looking like load.
class arrival_rate {
 public:
  void record(std::size_t rows, clock::time_point now);
  // Zero until two arrivals were seen.
  double rows_per_second(clock::time_point now) const;
  // Rows one arrival brings, on average; 1 until measured.
  double rows_per_arrival() const { return measured_ ? mean_rows_ : 1.0; }

 private:
  std::optional<clock::time_point> last_;
  double mean_gap_seconds_{0.0};
  double mean_rows_{0.0};
  bool measured_{false};
};

// What the dynamic batcher knows when an instance is free and the rows it
// holds are fewer than it would like to run.
struct dispatch_inputs {
  std::size_t queued_rows{0};  // rows of the batch that would run now
  std::size_t target_rows{0};  // the batch the policy would rather run
  double arrival_rows_per_second{0.0};
  double rows_per_arrival{1.0};
  // Latest moment to start (max_queue_delay and deadlines already applied).
  clock::time_point due;
  clock::time_point now;
};

// Whether waiting for more rows is expected to lower the total latency of
// the rows queued now plus those that arrive meanwhile, compared with running
// what is queued at once. Returns how long to wait, or nullopt to dispatch
// now. Never more than the current batch's own execution time: a longer
// wait can only add latency (see docs/batching.md).
std::optional<clock::duration> worth_waiting(const dispatch_inputs& in, const execution_time_model& times);

}  // namespace surge
