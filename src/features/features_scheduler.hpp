#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <functional>
#include <memory>
#include <mutex>

#include "features/feature_spec.hpp"
#include "features/static_attributes.hpp"
#include "features/stream_follower.hpp"
#include "features/window_store.hpp"
#include "metrics/registry.hpp"
#include "router/registry_snapshot.hpp"
#include "scheduler/in_flight_gate.hpp"
#include "scheduler/request_scheduler.hpp"

namespace surge::features {

// What is served now, read when a request is scored (model_registry::snapshot).
using snapshot_source = std::function<std::shared_ptr<const registry_snapshot>()>;

// Everything one features model version keeps: its spec, windows, the
// stream follower feeding them, the static attributes and the metrics.
struct feature_state {
  feature_state(feature_spec s, metrics::registry& registry);
  feature_spec spec;
  window_store store;
  metrics::series_group series;
  event_counters counters;
  std::shared_ptr<void> entities_gauge;
  std::shared_ptr<stream_follower> follower;
  std::unique_ptr<static_attributes> attributes;
  bool scoring_batched{true};
};

// The requests of a features model: each is taken apart (entity, request
// fields), its windows evaluated and static attributes read, the vector
// assembled and sent to the scoring model as a request of its own, whose
// answer is this request's (with FEATURES, the vector, when asked).
class features_scheduler final : public request_scheduler,
                                 public std::enable_shared_from_this<features_scheduler> {
 public:
  features_scheduler(boost::asio::any_io_executor io, std::shared_ptr<feature_state> state, snapshot_source served);

  void schedule(request_ptr request) override;
  void drain(clock::time_point deadline, std::function<void()> drained) override;
  void join() override;
  void stop() override;

 private:
  boost::asio::awaitable<void> score(request_ptr request);
  void request_done();
  void stop_inputs();

  boost::asio::any_io_executor io_;
  std::shared_ptr<feature_state> state_;
  snapshot_source served_;
  in_flight_gate requests_;
  std::once_flag stopped_;
};

}  // namespace surge::features
