#pragma once

#include <cstddef>
#include <optional>
#include <vector>

#include "core/inference_request.hpp"

namespace surge {

// Estimates how long a batch of a given size takes to execute, from
// measurements of recent batches (exponentially weighted per size).
class execution_time_model {
 public:
  void record(std::size_t batch_rows, clock::duration elapsed);
  // Zero until something was measured; otherwise the estimate for the nearest
  // measured size at or above batch_rows (or the largest measured, scaled).
  clock::duration estimate(std::size_t batch_rows) const;
  bool measured() const { return measured_; }

 private:
  static constexpr std::size_t max_tracked = 1024;
  std::vector<std::optional<double>> nanoseconds_by_rows_;
  bool measured_{false};
};

}  // namespace surge
