#include "scheduler/execution_time_model.hpp"

#include <algorithm>

namespace surge {

namespace {
constexpr double smoothing = 0.2;  // weight of the newest measurement
}

void execution_time_model::record(std::size_t batch_rows, clock::duration elapsed) {
  if (batch_rows == 0) return;
  batch_rows = std::min(batch_rows, max_tracked);
  if (nanoseconds_by_rows_.size() <= batch_rows) nanoseconds_by_rows_.resize(batch_rows + 1);
  const double ns = static_cast<double>(std::chrono::duration_cast<std::chrono::nanoseconds>(elapsed).count());
  auto& slot = nanoseconds_by_rows_[batch_rows];
  slot = slot ? (1.0 - smoothing) * *slot + smoothing * ns : ns;
  measured_ = true;
}

clock::duration execution_time_model::estimate(std::size_t batch_rows) const {
  batch_rows = std::min(batch_rows, max_tracked);
  for (std::size_t rows = batch_rows; rows < nanoseconds_by_rows_.size(); ++rows) {
    if (nanoseconds_by_rows_[rows]) {
      return std::chrono::nanoseconds(static_cast<std::int64_t>(*nanoseconds_by_rows_[rows]));
    }
  }
  // Only smaller batches were measured: assume time grows linearly with rows.
  for (std::size_t rows = std::min(batch_rows, nanoseconds_by_rows_.size()); rows-- > 1;) {
    if (nanoseconds_by_rows_[rows]) {
      const double scaled = *nanoseconds_by_rows_[rows] * static_cast<double>(batch_rows) / static_cast<double>(rows);
      return std::chrono::nanoseconds(static_cast<std::int64_t>(scaled));
    }
  }
  return clock::duration::zero();
}

}  // namespace surge
