#pragma once

// OpenAI streamed completions (/v1/completions or /v1/chat/completions with
// "stream": true) over HTTP/1.1 keep-alive as a load_target. Each request's
// Server-Sent Events are parsed as they arrive, so every outcome carries when
// the first text came, the gaps between later text, and the tokens generated
// (from the stream's usage chunk).

#include <boost/asio/any_io_executor.hpp>
#include <atomic>
#include <memory>
#include <string>

#include "bench/bench_options.hpp"
#include "bench/http_client.hpp"
#include "bench/load_target.hpp"
#include "bench/openai_request.hpp"

namespace surge::bench {

class openai_stream_target final : public load_target {
 public:
  // `options` must outlive the target.
  openai_stream_target(boost::asio::any_io_executor executor, const bench_options& options);

  boost::asio::awaitable<std::optional<std::string>> prepare() override;
  const target_summary& summary() const override { return summary_; }
  std::unique_ptr<request_driver> make_driver(boost::asio::any_io_executor executor) override;

 private:
  boost::asio::any_io_executor executor_;
  const bench_options& options_;
  http_limits limits_;
  std::string host_header_;
  std::shared_ptr<const endpoint_list> endpoints_;
  std::shared_ptr<const openai_request_settings> settings_;
  std::atomic<std::uint64_t> drivers_made_{0};  // each driver's generator gets its own seed
  target_summary summary_;
};

}  // namespace surge::bench
