#include "autoscale/sizing.hpp"

#include <gtest/gtest.h>

#include <cmath>

namespace surge::autoscale {
namespace {

TEST(Sizing, ThroughputIsInstancesTimesBatchOverServiceTime) {
  EXPECT_DOUBLE_EQ(replica_throughput(1, 4, 0.02), 200.0);
  EXPECT_DOUBLE_EQ(replica_throughput(2, 4, 0.02), 400.0);
  EXPECT_EQ(replica_throughput(1, 4, 0), 0.0);
  EXPECT_EQ(replica_throughput(1, 0, 0.02), 0.0);
}

TEST(Sizing, LittlesLawWithHeadroom) {
  // 300 requests/s at 5 ms each keep 1.5 replicas busy; at 75% utilisation, 2.
  EXPECT_DOUBLE_EQ(load_replicas(300, 200, 1.0), 1.5);
  EXPECT_DOUBLE_EQ(load_replicas(300, 200, 0.75), 2.0);
  EXPECT_EQ(load_replicas(0, 200, 0.75), 0.0);
}

TEST(Sizing, BacklogTheLiveReplicasClearBeforeHelpArrivesIsNoReason) {
  // 100 queued, live replicas 100/s faster than arrivals: gone in 1 s, before a 10 s cold start.
  EXPECT_EQ(backlog_at_join(100, 100, 200, 10), 0.0);
  // Falling behind by 50/s: 500 more by the time new replicas join.
  EXPECT_DOUBLE_EQ(backlog_at_join(100, 250, 200, 10), 600.0);
}

TEST(Sizing, BacklogDrainsWithinTheBudget) {
  // Arrivals of 100/s plus 50 queued to drain in 0.5 s: 200/s, one replica of 200/s.
  EXPECT_DOUBLE_EQ(backlog_replicas(50, 100, 200, 0.5), 1.0);
  EXPECT_EQ(backlog_replicas(0, 100, 200, 0.5), 0.0);
}

TEST(Sizing, PredictedQueueWaitIsBacklogOverLiveThroughput) {
  EXPECT_DOUBLE_EQ(predicted_queue_wait_s(100, 400), 0.25);
  EXPECT_EQ(predicted_queue_wait_s(0, 0), 0.0);
  EXPECT_TRUE(std::isinf(predicted_queue_wait_s(1, 0)));
}

}  // namespace
}  // namespace surge::autoscale
