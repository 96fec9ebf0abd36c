#include "bench/arrival_schedule.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

namespace surge::bench {
namespace {

using namespace std::chrono_literals;
using std::chrono::nanoseconds;

TEST(ArrivalSchedule, ConstantIsEvenlySpacedFromZero) {
  arrival_schedule schedule(arrival_process::constant, 1000);
  EXPECT_EQ(schedule.next(), 0ns);
  EXPECT_EQ(schedule.next(), 1ms);
  EXPECT_EQ(schedule.next(), 2ms);
}

TEST(ArrivalSchedule, ConstantDoesNotDriftWithInexactGaps) {
  // 1/3 s does not divide into nanoseconds; the millionth send is still on time.
  arrival_schedule schedule(arrival_process::constant, 3);
  EXPECT_EQ(schedule.next(), 0ns);
  EXPECT_EQ(schedule.next(), 333333333ns);
  EXPECT_EQ(schedule.next(), 666666667ns);
  EXPECT_EQ(schedule.next(), 1s);
  arrival_schedule fast(arrival_process::constant, 3000);
  nanoseconds last{};
  for (int i = 0; i <= 3'000'000; ++i) last = fast.next();
  EXPECT_EQ(last, 1000s);
}

TEST(ArrivalSchedule, PoissonIsReproducibleFromItsSeed) {
  arrival_schedule a(arrival_process::poisson, 500, 11);
  arrival_schedule b(arrival_process::poisson, 500, 11);
  arrival_schedule c(arrival_process::poisson, 500, 12);
  bool differs = false;
  for (int i = 0; i < 100; ++i) {
    const auto x = a.next();
    EXPECT_EQ(x, b.next());
    differs = differs || x != c.next();
  }
  EXPECT_TRUE(differs);
}

TEST(ArrivalSchedule, PoissonStartsAtZeroAndNeverGoesBack) {
  arrival_schedule schedule(arrival_process::poisson, 10000, 3);
  EXPECT_EQ(schedule.next(), 0ns);
  nanoseconds previous{};
  for (int i = 0; i < 10000; ++i) {
    const auto at = schedule.next();
    ASSERT_GE(at, previous);
    previous = at;
  }
}

TEST(ArrivalSchedule, PoissonGapsAreExponentialWithTheRequestedMean) {
  constexpr double rate = 2000;  // per second: mean gap 500 µs
  constexpr int samples = 200000;
  arrival_schedule schedule(arrival_process::poisson, rate, 5);
  std::vector<double> gaps;
  auto previous = schedule.next();
  for (int i = 0; i < samples; ++i) {
    const auto at = schedule.next();
    gaps.push_back(static_cast<double>((at - previous).count()));
    previous = at;
  }
  double sum = 0;
  for (double g : gaps) sum += g;
  const double mean = sum / samples;
  double squares = 0;
  for (double g : gaps) squares += (g - mean) * (g - mean);
  const double deviation = std::sqrt(squares / samples);
  std::size_t above_mean = 0;
  for (double g : gaps) above_mean += g > 1e9 / rate ? 1 : 0;

  EXPECT_NEAR(mean, 1e9 / rate, 0.01 * 1e9 / rate);
  EXPECT_NEAR(deviation / mean, 1.0, 0.02);  // an exponential's standard deviation equals its mean
  EXPECT_NEAR(static_cast<double>(above_mean) / samples, std::exp(-1.0), 0.005);  // P(gap > mean) = 1/e
}

TEST(ArrivalSchedule, PoissonKeepsTheRateOverALongRun) {
  arrival_schedule schedule(arrival_process::poisson, 100, 9);
  nanoseconds last{};
  for (int i = 0; i <= 100000; ++i) last = schedule.next();
  // 100 000 gaps of mean 10 ms: 1000 s, within a few standard errors (0.3%).
  EXPECT_NEAR(std::chrono::duration<double>(last).count(), 1000.0, 10.0);
}

}  // namespace
}  // namespace surge::bench
