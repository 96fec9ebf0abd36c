#include "autoscale/load_meter.hpp"

#include <gtest/gtest.h>

namespace surge::autoscale {
namespace {

using namespace std::chrono_literals;

const std::vector<double> bounds{0.01, 0.1, 1.0};

load_reading reading(clock::time_point at, std::uint64_t requests, std::uint64_t batches, double seconds, double rows,
                     std::vector<std::uint64_t> latency, std::uint64_t backlog = 0) {
  load_reading r;
  r.at = at;
  r.requests = requests;
  r.batches = batches;
  r.batch_seconds = seconds;
  r.batch_rows = rows;
  r.latency_bounds = bounds;
  r.latency_counts = std::move(latency);
  r.backlog = backlog;
  return r;
}

TEST(LoadMeter, RatesAndMeansAreOverTheInterval) {
  const clock::time_point t0{};
  const auto before = reading(t0, 100, 10, 0.5, 40, {100, 0, 0, 0});
  const auto after = reading(t0 + 2s, 500, 60, 3.0, 240, {150, 340, 10, 0}, 7);
  const auto sample = sample_between(before, after, 2, 1);
  EXPECT_DOUBLE_EQ(sample.arrival_rate, 200.0);
  EXPECT_EQ(sample.batch_service_time, 50ms);  // 2.5 s over 50 batches
  EXPECT_DOUBLE_EQ(sample.mean_batch_size, 4.0);
  EXPECT_EQ(sample.backlog, 7u);
  EXPECT_EQ(sample.live_replicas, 2u);
  EXPECT_EQ(sample.warming_replicas, 1u);
  // 400 new observations: 50 under 10 ms, 340 under 100 ms, 10 under 1 s;
  // the 396th is in the 1 s bucket.
  EXPECT_EQ(sample.p99_latency, 1s);
  EXPECT_EQ(sample.at, after.at);
}

TEST(LoadMeter, AnIntervalWithoutBatchesMeasuresNothing) {
  const clock::time_point t0{};
  const auto same = reading(t0, 10, 3, 0.3, 3, {10, 0, 0, 0});
  auto later = same;
  later.at = t0 + 1s;
  const auto sample = sample_between(same, later, 1, 0);
  EXPECT_EQ(sample.arrival_rate, 0.0);
  EXPECT_EQ(sample.batch_service_time, 0us);
  EXPECT_EQ(sample.mean_batch_size, 0.0);
  EXPECT_EQ(sample.p99_latency, 0us);
}

TEST(LoadMeter, CountersThatWentBackCountFromZero) {
  // A reloaded version starts its counters again.
  const clock::time_point t0{};
  const auto before = reading(t0, 1000, 100, 10, 100, {1000, 0, 0, 0});
  const auto after = reading(t0 + 1s, 30, 3, 0.03, 3, {30, 0, 0, 0});
  const auto sample = sample_between(before, after, 1, 0);
  EXPECT_DOUBLE_EQ(sample.arrival_rate, 30.0);
  EXPECT_EQ(sample.batch_service_time, 10ms);
  EXPECT_EQ(sample.p99_latency, 10ms);
}

TEST(LoadMeter, QuantileOfTheInfBucketIsTheLastBound) {
  EXPECT_DOUBLE_EQ(histogram_quantile(bounds, {0, 0, 0, 0}, {0, 0, 0, 5}, 0.99), 1.0);
  EXPECT_DOUBLE_EQ(histogram_quantile(bounds, {}, {99, 1, 0, 0}, 0.99), 0.01);
  EXPECT_DOUBLE_EQ(histogram_quantile(bounds, {}, {98, 2, 0, 0}, 0.99), 0.1);
  EXPECT_DOUBLE_EQ(histogram_quantile(bounds, {}, {0, 0, 0, 0}, 0.99), 0.0);
}

}  // namespace
}  // namespace surge::autoscale

namespace surge::autoscale {
namespace {

using namespace std::chrono_literals;

TEST(FullBatchCapacity, AWaitingModelServesFullBatchesInTheSameTime) {
  // 20 ms whatever the size: batches of 1 and 2 seen, max 4.
  const auto capacity = full_batch_capacity({{1, 100, 2.0}, {2, 50, 1.0}}, 4);
  ASSERT_TRUE(capacity);
  EXPECT_DOUBLE_EQ(capacity->rows, 4);
  EXPECT_EQ(capacity->service, 20ms);
}

TEST(FullBatchCapacity, AComputeBoundModelGainsLittle) {
  // 1 ms fixed + 10 ms per row: full batches of 8 take 81 ms (98.8 rows/s
  // against 90.9 at size 1).
  const auto capacity = full_batch_capacity({{1, 40, 40 * 0.011}, {2, 40, 40 * 0.021}}, 8);
  ASSERT_TRUE(capacity);
  EXPECT_DOUBLE_EQ(capacity->rows, 8);
  EXPECT_NEAR(std::chrono::duration<double>(capacity->service).count(), 0.081, 1e-5);
}

TEST(FullBatchCapacity, NeverExtrapolatesFarBeyondWhatWasSeen) {
  const auto capacity = full_batch_capacity({{1, 100, 2.0}, {2, 50, 1.0}}, 1024);
  ASSERT_TRUE(capacity);
  EXPECT_DOUBLE_EQ(capacity->rows, 8);  // 4x the largest size seen
}

TEST(FullBatchCapacity, NeedsTwoSizesSeenOftenEnough) {
  EXPECT_FALSE(full_batch_capacity({{1, 1000, 20.0}}, 4));
  EXPECT_FALSE(full_batch_capacity({{1, 1000, 20.0}, {2, 3, 0.06}}, 4));
  EXPECT_FALSE(full_batch_capacity({}, 4));
}

TEST(FullBatchCapacity, TimeProportionalToRowsGainsNothing) {
  // 10 ms per row, nothing fixed: larger batches serve no more rows per second.
  EXPECT_FALSE(full_batch_capacity({{1, 50, 0.5}, {2, 50, 1.0}, {4, 50, 2.0}}, 8));
}

TEST(FullBatchCapacity, NoisySlopeBelowZeroIsTakenAsFlat) {
  const auto capacity = full_batch_capacity({{1, 10, 0.22}, {2, 10, 0.18}}, 4);
  ASSERT_TRUE(capacity);
  EXPECT_EQ(capacity->service, 20ms);
}

}  // namespace
}  // namespace surge::autoscale
