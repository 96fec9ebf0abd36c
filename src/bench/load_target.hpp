#pragma once

// The seam between what is sent and how load is applied. A load_target knows
// one protocol and one model (KServe v2 over HTTP/1.1 or over gRPC, OpenAI
// streamed completions); the loops in load_loop.hpp know only "send one
// request, tell me how it went" (for a token stream: also when its text
// came), so another protocol is a new load_target, not a new loop.

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace surge::bench {

using bench_clock = std::chrono::steady_clock;

// Why a request got no usable answer at the transport level.
enum class failure_kind {
  none,
  connect_failed,     // could not open the connection
  timeout,            // --timeout-ms passed (connect, send or receive)
  connection_closed,  // the server closed or reset the connection mid-exchange
  protocol_error,     // the answer was not well-formed HTTP (or was over the size limit); gRPC: it failed in transport
  invalid_response,   // a success status whose body is not what the protocol promises
  stream_error,       // a streamed answer began with success, then the server sent an error event
  client_saturated,   // open loop: the request was due but every allowed connection was busy
  other,              // anything else the OS reported
};

std::string_view failure_name(failure_kind kind);  // snake_case, as in the JSON report

// What a token-streaming request saw besides its outcome. Times are when the
// bytes arrived; the loop measures them from the request's start.
struct stream_observation {
  std::optional<bench_clock::time_point> first_token_at;   // the first event with text; none when no text came
  std::vector<std::chrono::nanoseconds> inter_token_gaps;  // between successive events with text
  std::uint64_t output_tokens{0};  // the server's usage count, or the events with text when it sent none
  bool tokens_from_usage{false};
};

struct request_outcome {
  failure_kind failure{failure_kind::none};
  // The protocol's status when an answer arrived: HTTP 200, 429, ...; gRPC's
  // status code (0 OK, 14 UNAVAILABLE, ...). Meaningless when `failure` is set.
  unsigned status{0};
  bool ok{false};  // `status` is the protocol's success (HTTP 200, gRPC OK)
  std::optional<stream_observation> stream{};  // token-streaming targets
  bool success() const { return failure == failure_kind::none && ok; }
};

// How reports name a status of `protocol` (a target_summary::protocol):
// "429" for HTTP (kserve-http, openai), "UNAVAILABLE" for gRPC.
std::string status_name(std::string_view protocol, unsigned status);

// One connection's worth of sending: requests go one at a time, each after
// the previous one's outcome is known (HTTP/1.1 keep-alive; gRPC: one call at
// a time on a channel the drivers share). Reconnects by itself after a
// failure; the connect time then counts in that request. Used from one
// coroutine at a time.
class request_driver {
 public:
  virtual ~request_driver() = default;
  virtual boost::asio::awaitable<request_outcome> send_one() = 0;
  virtual void close() = 0;
};

// What a token-streaming target sends, for the reports.
struct generation_summary {
  std::string endpoint;  // "/v1/completions", "/v1/chat/completions"
  std::size_t prompts{1};
  std::size_t prompt_bytes_min{0};
  std::size_t prompt_bytes_max{0};
  std::uint32_t max_tokens_min{0};
  std::uint32_t max_tokens_max{0};
  std::string max_tokens_distribution;  // "uniform", "log-uniform"
  bool ignore_eos{false};
  std::optional<double> temperature;  // none: the server's default
  bool usage_reported{true};          // the probe's stream carried usage.completion_tokens
};

// What the reports say about the target.
struct target_summary {
  std::string protocol;  // "kserve-http", "kserve-grpc" or "openai"
  std::string url;
  std::string model;
  std::string version;   // as the server reported it, or as asked
  std::string encoding;  // "json" or "binary"; gRPC: "raw"; openai: "sse"
  std::size_t request_bytes{0};
  std::int64_t rows_per_request{1};
  struct tensor_summary {
    std::string name;
    std::string datatype;
    std::vector<std::int64_t> shape;
  };
  std::vector<tensor_summary> inputs;
  std::optional<generation_summary> generation;  // token-streaming targets: results carry stream statistics
};

// Everything that is not the load itself: learn the model, build the request
// once, check one exchange end to end. A failure to prepare is a setup error
// for the user (unreachable server, unknown model, a request it refuses).
class load_target {
 public:
  virtual ~load_target() = default;
  // nullopt on success, else a message that says what went wrong and where.
  virtual boost::asio::awaitable<std::optional<std::string>> prepare() = 0;
  // Valid after prepare() succeeded.
  virtual const target_summary& summary() const = 0;
  // A driver whose I/O runs on `executor` (a strand when several threads run the io_context).
  virtual std::unique_ptr<request_driver> make_driver(boost::asio::any_io_executor executor) = 0;
};

}  // namespace surge::bench
