#pragma once

// A high-dynamic-range latency histogram in the manner of HdrHistogram:
// buckets are exact below 2048 ns and log-linear above (1024 sub-buckets per
// power of two), so any recorded value is known to within 1/1024 (< 0.1%) of
// itself across the whole range, with a fixed memory cost and O(1) recording.
// Percentiles computed from it are therefore as precise as the bucket width,
// unlike averages of averages or fixed millisecond bins.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace surge::bench {

class latency_histogram {
 public:
  // Values above this are counted at it (and reported as clamped); below
  // 1 µs the histogram is exact to the nanosecond anyway.
  static constexpr std::chrono::nanoseconds highest_trackable{std::chrono::seconds(100)};

  latency_histogram();

  void record(std::chrono::nanoseconds value);
  void merge(const latency_histogram& other);
  void reset();

  std::uint64_t count() const { return count_; }
  std::uint64_t clamped_count() const { return clamped_; }  // values recorded above highest_trackable
  std::chrono::nanoseconds min() const;                      // exact; 0 when empty
  std::chrono::nanoseconds max() const;                      // exact (unclamped); 0 when empty
  std::chrono::nanoseconds mean() const;                     // exact sum / count; 0 when empty

  // The smallest recorded value v such that `percentile` percent of the
  // values are <= v, given as the highest value of v's bucket (so never below
  // the true value, above it by < 0.1%) and never above max(). percentile in
  // [0, 100]; 0 when empty.
  std::chrono::nanoseconds value_at_percentile(double percentile) const;

  // Bucket arithmetic, public for tests.
  static std::size_t bucket_index(std::uint64_t value_ns);
  static std::uint64_t bucket_lowest(std::size_t index);
  static std::uint64_t bucket_highest(std::size_t index);
  static std::size_t bucket_count();

 private:
  std::vector<std::uint64_t> counts_;
  std::uint64_t count_{0};
  std::uint64_t clamped_{0};
  std::uint64_t min_ns_{0};
  std::uint64_t max_ns_{0};
  // Double: 1e9 requests of 100 s would overflow a 64-bit count of ns, and
  // the mean needs no more than 53 bits of precision.
  double sum_ns_{0};
};

}  // namespace surge::bench
