#pragma once

#include <memory>

#include "gateway/redis_gateway.hpp"
#include "instance/instance.hpp"

namespace surge::gateway {

// An instance whose batches run on remote workers: it hands them to the
// gateway, which answers every request and then reports the batch done.
// Several of these per model let the scheduler keep that many batches in
// flight.
class redis_pool_instance final : public instance {
 public:
  redis_pool_instance(std::shared_ptr<redis_gateway> gateway, std::shared_ptr<redis_gateway::model> target,
                      model_metrics& metrics, model_statistics& statistics)
      : gateway_(std::move(gateway)), target_(std::move(target)), metrics_(metrics), statistics_(statistics) {}

  void execute(std::vector<request_ptr> batch, done_callback done) override {
    gateway_->submit(target_, std::move(batch), std::move(done), metrics_, statistics_);
  }
  // Outstanding requests are answered by redis_gateway::stop().
  void stop() override {}

 private:
  std::shared_ptr<redis_gateway> gateway_;
  std::shared_ptr<redis_gateway::model> target_;
  model_metrics& metrics_;
  model_statistics& statistics_;
};

}  // namespace surge::gateway
