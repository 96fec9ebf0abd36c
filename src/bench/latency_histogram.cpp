#include "bench/latency_histogram.hpp"

#include <algorithm>
#include <bit>
#include <cmath>

namespace surge::bench {

namespace {

// 2^11 exact buckets, then 2^10 per power of two: a bucket at value v is at
// most v/1024 wide.
constexpr unsigned sub_bucket_bits = 11;
constexpr std::uint64_t linear_buckets = std::uint64_t{1} << sub_bucket_bits;  // 2048
constexpr std::uint64_t half_buckets = linear_buckets / 2;                     // 1024

constexpr std::uint64_t highest_ns = static_cast<std::uint64_t>(latency_histogram::highest_trackable.count());

}  // namespace

std::size_t latency_histogram::bucket_index(std::uint64_t value_ns) {
  if (value_ns < linear_buckets) return static_cast<std::size_t>(value_ns);
  const unsigned shift = static_cast<unsigned>(std::bit_width(value_ns)) - sub_bucket_bits;  // >= 1
  return static_cast<std::size_t>(linear_buckets + (shift - 1) * half_buckets + ((value_ns >> shift) - half_buckets));
}

std::uint64_t latency_histogram::bucket_lowest(std::size_t index) {
  if (index < linear_buckets) return index;
  const std::uint64_t above = index - linear_buckets;
  const unsigned shift = static_cast<unsigned>(above / half_buckets) + 1;
  return (above % half_buckets + half_buckets) << shift;
}

std::uint64_t latency_histogram::bucket_highest(std::size_t index) {
  if (index < linear_buckets) return index;
  const unsigned shift = static_cast<unsigned>((index - linear_buckets) / half_buckets) + 1;
  return bucket_lowest(index) + (std::uint64_t{1} << shift) - 1;
}

std::size_t latency_histogram::bucket_count() { return bucket_index(highest_ns) + 1; }

latency_histogram::latency_histogram() : counts_(bucket_count(), 0) {}

void latency_histogram::record(std::chrono::nanoseconds value) {
  const std::uint64_t ns = value.count() > 0 ? static_cast<std::uint64_t>(value.count()) : 0;
  std::uint64_t tracked = ns;
  if (ns > highest_ns) {
    tracked = highest_ns;
    ++clamped_;
  }
  ++counts_[bucket_index(tracked)];
  min_ns_ = count_ == 0 ? ns : std::min(min_ns_, ns);
  max_ns_ = std::max(max_ns_, ns);
  sum_ns_ += static_cast<double>(ns);
  ++count_;
}

void latency_histogram::merge(const latency_histogram& other) {
  if (other.count_ == 0) return;
  for (std::size_t i = 0; i < counts_.size(); ++i) counts_[i] += other.counts_[i];
  min_ns_ = count_ == 0 ? other.min_ns_ : std::min(min_ns_, other.min_ns_);
  max_ns_ = std::max(max_ns_, other.max_ns_);
  sum_ns_ += other.sum_ns_;
  count_ += other.count_;
  clamped_ += other.clamped_;
}

void latency_histogram::reset() {
  std::fill(counts_.begin(), counts_.end(), 0);
  count_ = 0;
  clamped_ = 0;
  min_ns_ = 0;
  max_ns_ = 0;
  sum_ns_ = 0;
}

std::chrono::nanoseconds latency_histogram::min() const { return std::chrono::nanoseconds(min_ns_); }

std::chrono::nanoseconds latency_histogram::max() const { return std::chrono::nanoseconds(max_ns_); }

std::chrono::nanoseconds latency_histogram::mean() const {
  if (count_ == 0) return std::chrono::nanoseconds(0);
  return std::chrono::nanoseconds(static_cast<std::int64_t>(std::llround(sum_ns_ / static_cast<double>(count_))));
}

std::chrono::nanoseconds latency_histogram::value_at_percentile(double percentile) const {
  if (count_ == 0) return std::chrono::nanoseconds(0);
  const double clamped_percentile = std::clamp(percentile, 0.0, 100.0);
  // The rank of the value asked for, 1-based: p99 of 1000 values is the 990th.
  // The relative nudge keeps 99.9 / 100 * 1000 (999.0000000000001 in binary
  // floating point) from rounding up to the 1000th.
  const double exact_rank = clamped_percentile / 100.0 * static_cast<double>(count_);
  auto rank = static_cast<std::uint64_t>(std::ceil(exact_rank * (1.0 - 1e-12)));
  rank = std::clamp<std::uint64_t>(rank, 1, count_);
  std::uint64_t seen = 0;
  for (std::size_t i = 0; i < counts_.size(); ++i) {
    seen += counts_[i];
    if (seen >= rank) {
      const auto value = std::clamp(bucket_highest(i), min_ns_, max_ns_);
      return std::chrono::nanoseconds(static_cast<std::int64_t>(value));
    }
  }
  return max();
}

}  // namespace surge::bench
