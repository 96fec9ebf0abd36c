// Validation of the sections that send a model's batches elsewhere:
// worker_pool (Redis Streams workers) and upstream (an HTTP API).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "config/model_config.hpp"

namespace surge {
namespace {

using ::testing::HasSubstr;

constexpr std::string_view tensors = R"pb(
input [ { name: "INPUT0" data_type: TYPE_FP32 dims: [ -1 ] } ]
output [ { name: "OUTPUT0" data_type: TYPE_FP32 dims: [ -1 ] } ]
)pb";

config_load_result complete(std::string text) {
  auto parsed = parse_model_config(std::string(tensors) + text, "m/config.pbtxt");
  if (!parsed.config) return parsed;
  return complete_model_config(std::move(*parsed.config), "m", "m/config.pbtxt");
}

TEST(RemoteModelConfig, AcceptsAWorkerPool) {
  auto loaded =
      complete(R"pb(backend: "identity" worker_pool { heartbeat_ms: 100 claim_idle_ms: 500 local_workers: 2 })pb");
  ASSERT_TRUE(loaded.config) << loaded.error;
  EXPECT_EQ(loaded.config->worker_pool().local_workers(), 2u);
}

TEST(RemoteModelConfig, ClaimIdleMustOutlastAHeartbeat) {
  auto loaded = complete(R"pb(backend: "identity" worker_pool { heartbeat_ms: 5000 })pb");
  ASSERT_FALSE(loaded.config);
  EXPECT_THAT(loaded.error, HasSubstr("worker_pool.claim_idle_ms: 5000 must be longer than heartbeat_ms (5000)"));
}

TEST(RemoteModelConfig, AnUpstreamNeedsNoBackendButAnHttpUrl) {
  auto ok = complete(R"pb(upstream { url: "http://127.0.0.1:9/v2/models/x/infer" })pb");
  ASSERT_TRUE(ok.config) << ok.error;
  auto missing = complete(R"pb(upstream { })pb");
  EXPECT_THAT(missing.error, HasSubstr("upstream.url: is required"));
  auto https = complete(R"pb(upstream { url: "https://example.com/infer" })pb");
  EXPECT_THAT(https.error, HasSubstr("must be an http:// URL"));
}

TEST(RemoteModelConfig, NotBothAPoolAndAnUpstream) {
  auto loaded = complete(R"pb(backend: "identity" worker_pool {} upstream { url: "http://h:1/x" })pb");
  ASSERT_FALSE(loaded.config);
  EXPECT_THAT(loaded.error, HasSubstr("not both"));
}

TEST(RemoteModelConfig, AcceptsAutoscalingOfLocalWorkers) {
  auto loaded = complete(R"pb(backend: "identity" worker_pool { local_workers: 1 }
                              autoscaling { min_replicas: 1 max_replicas: 4 target_latency_ms: 200 })pb");
  ASSERT_TRUE(loaded.config) << loaded.error;
  EXPECT_EQ(loaded.config->autoscaling().max_replicas(), 4u);
}

TEST(RemoteModelConfig, AutoscalingNamesWhatIsWrong) {
  auto no_workers = complete(R"pb(backend: "identity" autoscaling { max_replicas: 2 })pb");
  EXPECT_THAT(no_workers.error, HasSubstr("autoscaling: scales a worker_pool model's local workers"));
  auto no_max = complete(R"pb(backend: "identity" worker_pool { local_workers: 1 } autoscaling {})pb");
  EXPECT_THAT(no_max.error, HasSubstr("autoscaling.max_replicas: is required"));
  auto below = complete(R"pb(backend: "identity" worker_pool { local_workers: 1 }
                             autoscaling { min_replicas: 3 max_replicas: 2 })pb");
  EXPECT_THAT(below.error, HasSubstr("autoscaling.max_replicas: 2 is below min_replicas (3)"));
  auto share = complete(R"pb(backend: "identity" worker_pool { local_workers: 1 }
                             autoscaling { max_replicas: 2 target_utilisation: 1.5 })pb");
  EXPECT_THAT(share.error, HasSubstr("autoscaling.target_utilisation: must be in (0, 1]"));
  auto many = complete(R"pb(backend: "identity" worker_pool { local_workers: 1 } autoscaling { max_replicas: 500 })pb");
  EXPECT_THAT(many.error, HasSubstr("autoscaling.max_replicas: 500 is above 64 local workers"));
}

}  // namespace
}  // namespace surge
