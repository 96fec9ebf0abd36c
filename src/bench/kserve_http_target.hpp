#pragma once

// KServe v2 inference over HTTP/1.1 (JSON, or Triton's binary tensor
// extension) as a load_target: learns the model from its metadata, builds one
// request body, checks one exchange, then hands out keep-alive drivers that
// all send that same pre-serialized request.

#include <boost/asio/any_io_executor.hpp>
#include <memory>
#include <string>

#include "bench/bench_options.hpp"
#include "bench/http_client.hpp"
#include "bench/load_target.hpp"

namespace surge::bench {

class kserve_http_target final : public load_target {
 public:
  // `options` must outlive the target.
  kserve_http_target(boost::asio::any_io_executor executor, const bench_options& options);

  boost::asio::awaitable<std::optional<std::string>> prepare() override;
  const target_summary& summary() const override { return summary_; }
  std::unique_ptr<request_driver> make_driver(boost::asio::any_io_executor executor) override;

 private:
  std::string model_path() const;  // {base}/v2/models/{m}[/versions/{v}]

  boost::asio::any_io_executor executor_;
  const bench_options& options_;
  http_limits limits_;
  std::string host_header_;
  std::shared_ptr<const endpoint_list> endpoints_;
  std::shared_ptr<const std::string> infer_request_;  // serialized once, written by every driver
  target_summary summary_;
};

}  // namespace surge::bench
