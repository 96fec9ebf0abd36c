#pragma once

// KServe v2 inference over gRPC (inference.GRPCInferenceService/ModelInfer)
// as a load_target: learns the model from ModelMetadata and ModelConfig,
// builds one request with every input in raw_input_contents (as tritonclient
// and perf_analyzer send them), checks one exchange, then hands out drivers
// that send that request on one shared HTTP/2 channel with gRPC's callback
// API, resuming each driver's coroutine on its own executor.

#include <boost/asio/any_io_executor.hpp>
#include <memory>
#include <optional>
#include <string>

#include "bench/bench_options.hpp"
#include "bench/load_target.hpp"

namespace inference {
class ModelInferRequest;
class ModelInferResponse;
}  // namespace inference

namespace surge::bench {

class kserve_grpc_target final : public load_target {
 public:
  // `options` must outlive the target.
  kserve_grpc_target(boost::asio::any_io_executor executor, const bench_options& options);
  ~kserve_grpc_target() override;

  boost::asio::awaitable<std::optional<std::string>> prepare() override;
  const target_summary& summary() const override { return summary_; }
  std::unique_ptr<request_driver> make_driver(boost::asio::any_io_executor executor) override;

  struct connection;  // the channel and its stub

 private:
  boost::asio::any_io_executor executor_;
  const bench_options& options_;
  std::shared_ptr<connection> connection_;
  std::shared_ptr<const inference::ModelInferRequest> infer_request_;  // built once, sent by every driver
  target_summary summary_;
};

// nullopt when `response` is a KServe v2 infer response surge's or Triton's
// clients can read: named, typed, shaped outputs, each with its data in
// raw_output_contents (one entry per output) or in typed contents.
std::optional<std::string> check_grpc_infer_response(const inference::ModelInferResponse& response);

}  // namespace surge::bench
