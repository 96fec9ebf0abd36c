#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

#include <boost/asio/steady_timer.hpp>

#include "core/inference_request.hpp"
#include "frontends/http/http_server.hpp"
#include "router/model_version.hpp"

namespace surge::http {

// Collects a generation's chunks for the connection coroutine that streams
// them, waking it on its own executor whenever something arrives.
class generation_stream_sink final : public response_sink,
                                     public std::enable_shared_from_this<generation_stream_sink> {
 public:
  explicit generation_stream_sink(asio::any_io_executor connection);

  void send(inference_response response) override;
  void finish(std::optional<error> failure) override;

  struct update {
    std::vector<generation_chunk> chunks;
    bool finished{false};
    std::optional<error> failure;
  };
  // What arrived since the last take(). Connection executor only.
  update take();
  // Completes at once when something is waiting to be taken.
  asio::awaitable<void> wait();

 private:
  void wake();

  asio::steady_timer wake_;
  std::mutex mutex_;
  std::vector<generation_chunk> chunks_;  // guarded by mutex_
  std::optional<error> failure_;          // guarded by mutex_
  bool finished_{false};                  // guarded by mutex_
  bool taken_final_{false};               // connection executor only
};

struct generation_outcome {
  std::optional<error> failure;  // how the generation ended, when the client stayed
  bool client_gone{false};       // the client left (or a write failed); the request was cancelled
};

// Receives each batch of new chunks; returns false when writing failed.
using chunk_writer = std::function<asio::awaitable<bool>(std::vector<generation_chunk>&)>;

// Submits a generation request and feeds its chunks to `on_chunks` as they
// come, watching the socket meanwhile: a client that leaves cancels the
// request, which the sequence scheduler retires within one decode step.
asio::awaitable<generation_outcome> run_generation(connection_stream& stream, model_version& model,
                                                   request_ptr request, chunk_writer on_chunks);

}  // namespace surge::http
