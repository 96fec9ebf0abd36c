#include "bench/latency_histogram.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

namespace surge::bench {
namespace {

using namespace std::chrono_literals;
using std::chrono::nanoseconds;

constexpr double precision = 1.0 / 1024;  // the promised relative error

// The histogram reports the top of a value's bucket: never below the true
// value, above it by at most the bucket width.
void expect_close_above(nanoseconds reported, nanoseconds truth) {
  EXPECT_GE(reported.count(), truth.count());
  EXPECT_LE(static_cast<double>(reported.count() - truth.count()), precision * static_cast<double>(truth.count()) + 1)
      << "reported " << reported.count() << " ns for " << truth.count() << " ns";
}

TEST(LatencyHistogram, EmptyReportsZero) {
  latency_histogram h;
  EXPECT_EQ(h.count(), 0u);
  EXPECT_EQ(h.value_at_percentile(50), 0ns);
  EXPECT_EQ(h.max(), 0ns);
  EXPECT_EQ(h.min(), 0ns);
  EXPECT_EQ(h.mean(), 0ns);
}

TEST(LatencyHistogram, BucketsCoverEveryValueWithinPrecision) {
  const auto highest = static_cast<std::uint64_t>(latency_histogram::highest_trackable.count());
  std::vector<std::uint64_t> values;
  for (std::uint64_t v = 0; v < 20000; ++v) values.push_back(v);
  for (unsigned shift = 11; shift < 37; ++shift) {
    const std::uint64_t p = std::uint64_t{1} << shift;
    values.insert(values.end(), {p - 1, p, p + 1});
  }
  std::mt19937_64 random(7);
  for (int i = 0; i < 100000; ++i) values.push_back(std::uniform_int_distribution<std::uint64_t>(0, highest)(random));
  values.push_back(highest);

  for (const auto v : values) {
    const auto index = latency_histogram::bucket_index(v);
    ASSERT_LT(index, latency_histogram::bucket_count()) << v;
    const auto low = latency_histogram::bucket_lowest(index);
    const auto high = latency_histogram::bucket_highest(index);
    ASSERT_LE(low, v);
    ASSERT_GE(high, v);
    if (v >= 1000) {  // from 1 µs on, the bucket is within 0.1% of the value
      ASSERT_LE(static_cast<double>(high - low + 1), 0.001 * static_cast<double>(low) + 1e-9) << v;
    }
  }
}

TEST(LatencyHistogram, BucketsAreContiguousAndOrdered) {
  for (std::size_t i = 1; i < latency_histogram::bucket_count(); ++i) {
    ASSERT_EQ(latency_histogram::bucket_lowest(i), latency_histogram::bucket_highest(i - 1) + 1) << i;
  }
}

TEST(LatencyHistogram, MemoryStaysSmall) {
  // 1 ns .. 100 s at 0.1%: under 30 000 counters.
  EXPECT_LT(latency_histogram::bucket_count(), 30000u);
}

TEST(LatencyHistogram, SubMicrosecondValuesAreExact) {
  latency_histogram h;
  h.record(500ns);
  EXPECT_EQ(h.value_at_percentile(50), 500ns);
  EXPECT_EQ(h.value_at_percentile(100), 500ns);
}

TEST(LatencyHistogram, OneValueAnyPercentileIsThatValue) {
  latency_histogram h;
  h.record(1234567ns);
  // Clamped to the exact max, so exact.
  EXPECT_EQ(h.value_at_percentile(0), 1234567ns);
  EXPECT_EQ(h.value_at_percentile(50), 1234567ns);
  EXPECT_EQ(h.value_at_percentile(99.9), 1234567ns);
  EXPECT_EQ(h.min(), 1234567ns);
  EXPECT_EQ(h.max(), 1234567ns);
  EXPECT_EQ(h.mean(), 1234567ns);
}

TEST(LatencyHistogram, PercentilesOfUniformValues) {
  // 1 µs, 2 µs, ..., 100 ms.
  latency_histogram h;
  for (std::int64_t us = 1; us <= 100000; ++us) h.record(std::chrono::microseconds(us));
  EXPECT_EQ(h.count(), 100000u);
  expect_close_above(h.value_at_percentile(50), 50ms);
  expect_close_above(h.value_at_percentile(90), 90ms);
  expect_close_above(h.value_at_percentile(99), 99ms);
  expect_close_above(h.value_at_percentile(99.9), 99900us);
  EXPECT_EQ(h.value_at_percentile(100), 100ms);
  EXPECT_EQ(h.max(), 100ms);
  EXPECT_EQ(h.min(), 1us);
  EXPECT_EQ(h.mean(), nanoseconds(50000500));  // (1 + 100000) / 2 µs, exact
}

TEST(LatencyHistogram, PercentileRanksRoundUp) {
  latency_histogram h;
  for (std::int64_t us = 1; us <= 1000; ++us) h.record(std::chrono::microseconds(us));
  expect_close_above(h.value_at_percentile(99), 990us);      // the 990th of 1000
  expect_close_above(h.value_at_percentile(99.9), 999us);    // the 999th
  expect_close_above(h.value_at_percentile(99.95), 1000us);  // 999.5 rounds up to the 1000th
  expect_close_above(h.value_at_percentile(0.05), 1us);      // at least the first
}

TEST(LatencyHistogram, TailIsNotAveragedAway) {
  // 9990 fast requests and 10 slow ones: p99.9 must see the slow ones.
  latency_histogram h;
  for (int i = 0; i < 9990; ++i) h.record(100us);
  for (int i = 0; i < 10; ++i) h.record(2s);
  expect_close_above(h.value_at_percentile(99), 100us);
  expect_close_above(h.value_at_percentile(99.91), 2s);
  EXPECT_EQ(h.max(), 2s);
}

TEST(LatencyHistogram, RandomValuesMatchSortedPercentiles) {
  std::mt19937_64 random(42);
  std::lognormal_distribution<double> latency(std::log(200e3), 1.5);  // ns, around 200 µs with a long tail
  std::vector<std::int64_t> values;
  latency_histogram h;
  for (int i = 0; i < 200000; ++i) {
    const auto v = std::clamp<std::int64_t>(static_cast<std::int64_t>(latency(random)), 1, 100'000'000'000);
    values.push_back(v);
    h.record(nanoseconds(v));
  }
  std::sort(values.begin(), values.end());
  // Percentiles in hundredths of a percent, so the expected rank is exact integer arithmetic.
  for (const std::size_t basis_points : {100u, 2500u, 5000u, 9000u, 9900u, 9990u, 9999u}) {
    const auto rank = (basis_points * values.size() + 9999) / 10000;
    expect_close_above(h.value_at_percentile(static_cast<double>(basis_points) / 100.0), nanoseconds(values[rank - 1]));
  }
}

TEST(LatencyHistogram, MergeEqualsRecordingEverythingInOne) {
  latency_histogram a;
  latency_histogram b;
  latency_histogram all;
  for (std::int64_t i = 1; i <= 5000; ++i) {
    const auto v = nanoseconds(i * 997);
    (i % 3 == 0 ? a : b).record(v);
    all.record(v);
  }
  latency_histogram merged;
  merged.merge(a);
  merged.merge(b);
  EXPECT_EQ(merged.count(), all.count());
  EXPECT_EQ(merged.min(), all.min());
  EXPECT_EQ(merged.max(), all.max());
  EXPECT_EQ(merged.mean(), all.mean());
  for (const double p : {0.0, 10.0, 50.0, 99.0, 99.9, 100.0}) {
    EXPECT_EQ(merged.value_at_percentile(p), all.value_at_percentile(p)) << p;
  }
}

TEST(LatencyHistogram, ValuesBeyondRangeAreClampedAndCounted) {
  latency_histogram h;
  h.record(1ms);
  h.record(250s);
  EXPECT_EQ(h.clamped_count(), 1u);
  EXPECT_EQ(h.max(), 250s);  // the exact maximum survives
  expect_close_above(h.value_at_percentile(50), 1ms);
  EXPECT_LE(h.value_at_percentile(100), 250s);
  EXPECT_GE(h.value_at_percentile(100), latency_histogram::highest_trackable);
}

TEST(LatencyHistogram, NegativeDurationsCountAsZero) {
  latency_histogram h;
  h.record(nanoseconds(-5));
  EXPECT_EQ(h.count(), 1u);
  EXPECT_EQ(h.max(), 0ns);
}

TEST(LatencyHistogram, ResetForgetsEverything) {
  latency_histogram h;
  h.record(3ms);
  h.reset();
  EXPECT_EQ(h.count(), 0u);
  EXPECT_EQ(h.value_at_percentile(99), 0ns);
  h.record(7us);
  EXPECT_EQ(h.min(), 7us);
  EXPECT_EQ(h.value_at_percentile(50), 7us);
}

}  // namespace
}  // namespace surge::bench
