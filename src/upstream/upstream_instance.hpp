#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/strand.hpp>
#include <chrono>
#include <future>
#include <memory>
#include <variant>
#include <vector>

#include "config/model_config.pb.h"
#include "instance/instance.hpp"
#include "metrics/model_metrics.hpp"
#include "upstream/http_exchange.hpp"

namespace surge::upstream {

struct upstream_settings {
  std::string model;
  http_url url;
  config::ModelUpstream::Protocol protocol{config::ModelUpstream::KSERVE_V2};
  std::chrono::microseconds timeout{30'000'000};
  // The config's outputs: the JSON protocol names and types its one output
  // with them; a KServe v2 answer must contain each.
  std::vector<std::pair<std::string, data_type>> outputs;
};

// An instance whose batches run on an upstream HTTP API: the batch is
// concatenated as for a backend, sent as one request over a keep-alive
// connection of its own, and the answer's rows are split back to the
// requests. A failed exchange answers every request of the batch: 503
// (not_ready) when the upstream cannot be reached, timed out or answered
// 429/502/503/504, 500 (internal) for any other answer it should not have
// given.
class upstream_instance final : public instance {
 public:
  upstream_instance(boost::asio::any_io_executor io, std::shared_ptr<const upstream_settings> settings,
                    model_metrics& metrics, model_statistics& statistics);

  void execute(std::vector<request_ptr> batch, done_callback done) override;
  // Closes the connection (a batch in flight fails) and waits until no
  // batch is running, so the instance can be destroyed.
  void stop() override;

 private:
  boost::asio::awaitable<void> run(std::vector<request_ptr> batch, done_callback done);
  void finish_run(completion result, done_callback done);

  boost::asio::strand<boost::asio::any_io_executor> strand_;
  std::shared_ptr<const upstream_settings> settings_;
  model_metrics& metrics_;
  model_statistics& statistics_;
  std::shared_ptr<http_exchange> exchange_;  // strand_ only
  bool busy_{false};                         // strand_ only: a batch is in run()
  std::promise<void>* stopped_{nullptr};     // strand_ only: stop() waits for run() to end
};

// One instance per upstream.max_inflight (0: 4): that many batches, and
// connections, at a time.
std::variant<std::vector<std::unique_ptr<instance>>, error> make_upstream_instances(
    boost::asio::any_io_executor io, const config::ModelConfig& config, model_metrics& metrics,
    model_statistics& statistics);

}  // namespace surge::upstream
