#include "gateway/circuit_breaker.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace surge::gateway {
namespace {

using namespace std::chrono_literals;
using ::testing::HasSubstr;
using cause = circuit_breaker::cause;

circuit_breaker make() { return circuit_breaker("m", {1500ms, 1000ms}); }

TEST(CircuitBreaker, ClosedUntilSomethingIsObserved) {
  auto breaker = make();
  const auto now = clock::now();
  EXPECT_EQ(breaker.state(now, 0), cause::none);
  EXPECT_FALSE(breaker.open_reason(now, 0));
  EXPECT_FALSE(breaker.workers_measured_at());
}

TEST(CircuitBreaker, OpensWithoutLiveWorkersAndClosesWhenOneHeartbeats) {
  auto breaker = make();
  const auto now = clock::now();
  breaker.observe_workers(0, now);
  EXPECT_EQ(breaker.state(now, 0), cause::no_live_worker);
  EXPECT_THAT(*breaker.open_reason(now, 0), HasSubstr("no live worker for model 'm'"));
  breaker.observe_workers(2, now + 10ms);
  EXPECT_EQ(breaker.state(now + 10ms, 0), cause::none);
  EXPECT_EQ(breaker.live_workers(), 2);
}

TEST(CircuitBreaker, OpensWhenOutstandingRequestsGetNoReply) {
  auto breaker = make();
  const auto start = clock::now();
  breaker.observe_workers(1, start);
  breaker.observe_busy(start);
  EXPECT_EQ(breaker.state(start + 1499ms, 3), cause::none);
  EXPECT_EQ(breaker.state(start + 1500ms, 3), cause::stalled);
  EXPECT_THAT(*breaker.open_reason(start + 1500ms, 3), HasSubstr("3 requests outstanding"));
  // Nothing outstanding: nothing to wait for, so nothing is stalled.
  EXPECT_EQ(breaker.state(start + 5s, 0), cause::none);
  // A reply closes it.
  breaker.observe_reply(start + 2s);
  EXPECT_EQ(breaker.state(start + 2s, 3), cause::none);
  EXPECT_EQ(breaker.state(start + 3499ms, 3), cause::none);
  EXPECT_EQ(breaker.state(start + 3500ms, 3), cause::stalled);
}

TEST(CircuitBreaker, ToleratesABriefRedisOutage) {
  auto breaker = make();
  const auto start = clock::now();
  breaker.observe_redis(false, "redis at h:1 is unreachable: refused", start);
  EXPECT_EQ(breaker.state(start + 999ms, 0), cause::none);
  EXPECT_EQ(breaker.state(start + 1000ms, 0), cause::redis_unreachable);
  EXPECT_THAT(*breaker.open_reason(start + 1s, 0), HasSubstr("refused"));
  // Still down: the outage keeps its start.
  breaker.observe_redis(false, "still refused", start + 2s);
  EXPECT_EQ(breaker.state(start + 2s, 0), cause::redis_unreachable);
  breaker.observe_redis(true, "", start + 3s);
  EXPECT_EQ(breaker.state(start + 3s, 0), cause::none);
}

}  // namespace
}  // namespace surge::gateway
