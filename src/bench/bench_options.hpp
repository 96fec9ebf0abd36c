#pragma once

// What `surge bench` is asked to do, and the parsers for the forms its flags
// take ("1,4,16", "10s", "INPUT0=1,16", "http://host:port"). The parsers are
// pure so they can be tested without a server.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "bench/arrival_schedule.hpp"

namespace surge::bench {

// Either a value or a message for the user saying what is wrong with the text.
template <typename T>
using parsed = std::variant<T, std::string>;

struct server_address {
  std::string host;         // a name or an address; IPv6 without brackets
  std::string port{"80"};   // text, as the resolver takes it
  std::string base_path;    // prefix before /v2, without a trailing slash; usually empty
};

// The full shape of one input as sent, or its non-batch dimensions (then
// --rows is put in front): `--shape INPUT0=1,16`.
struct shape_override {
  std::string input;
  std::vector<std::int64_t> dims;
};

// What is sent.
enum class bench_protocol {
  http,    // KServe v2 REST over HTTP/1.1 keep-alive connections
  grpc,    // KServe v2 gRPC (inference.GRPCInferenceService/ModelInfer) on one HTTP/2 channel
  openai,  // OpenAI streamed completions over HTTP/1.1; stream statistics per token
};

// max_tokens of generated requests: each request draws one in [min, max]
// ("--max-tokens-range 8:256"); equal bounds give every request the same.
struct token_range {
  std::uint32_t min{64};
  std::uint32_t max{64};
};

// How max_tokens is drawn from its range. Uniform spreads lengths evenly;
// log-uniform (uniform in log(max_tokens)) gives many short answers and a few
// long ones, the long tail of real chat traffic.
enum class length_distribution { uniform, log_uniform };

struct bench_options {
  bench_protocol protocol{bench_protocol::http};
  std::string url{"http://127.0.0.1:8000"};  // gRPC: HOST:PORT, default 127.0.0.1:8001
  server_address address;  // parsed from url
  std::string model;
  std::string version;  // empty: the server's default version

  // Closed loop: one level per entry, each that many connections sending
  // back to back. Ignored when `rates` is set.
  std::vector<std::uint32_t> concurrency{1};
  // Open loop: one level per entry, requests per second sent on schedule
  // whatever the server's pace. Non-empty selects the open loop.
  std::vector<double> rates;
  arrival_process arrival{arrival_process::constant};
  std::uint64_t seed{1};  // of the Poisson schedule

  std::chrono::nanoseconds duration{std::chrono::seconds(10)};  // measured, per level
  std::chrono::nanoseconds warmup{std::chrono::seconds(2)};     // sent but not measured, before each level

  std::int64_t rows{1};  // the batch dimension of synthesized inputs
  std::vector<shape_override> shapes;
  std::size_t string_length{16};  // bytes per synthesized BYTES element
  bool binary{false};             // Triton's binary tensor extension instead of JSON data
  std::string input_file;         // a KServe v2 request body to send instead of synthesized inputs

  // --protocol openai
  bool chat{false};                       // /v1/chat/completions instead of /v1/completions
  std::string prompt;                     // every request's, when no prompt_file; empty: "In the beginning"
  std::string prompt_file;                // one prompt per line; each request draws one (seeded)
  token_range max_tokens;
  length_distribution max_tokens_distribution{length_distribution::uniform};
  bool ignore_eos{false};
  std::optional<double> temperature;      // none: the server's default

  std::chrono::milliseconds timeout{30000};  // one request, connect included
  unsigned threads{1};                       // I/O threads of the load generator
  std::uint32_t max_connections{1024};       // open loop: beyond this, a due request is a "client_saturated" error

  bool json{false};          // one JSON document on stdout instead of the table
  std::string command_line;  // as typed, for the report
};

// "10s", "500ms", "250us", "2m", "1.5s"; a bare number is seconds. Not negative.
parsed<std::chrono::nanoseconds> parse_duration(std::string_view text);

// "1,4,16,64": positive integers, spaces allowed around commas.
parsed<std::vector<std::uint32_t>> parse_concurrency_list(std::string_view text);

// "100,250.5": positive request rates per second.
parsed<std::vector<double>> parse_rate_list(std::string_view text);

// "INPUT0=1,16": dimensions are positive integers.
parsed<shape_override> parse_shape_override(std::string_view text);

// "http://host:port[/prefix]", "host:port", "http://[::1]:8000". https is
// refused (the load generator speaks plain HTTP/1.1).
parsed<server_address> parse_url(std::string_view text);

parsed<arrival_process> parse_arrival(std::string_view text);

parsed<bench_protocol> parse_protocol(std::string_view text);  // "http", "grpc" or "openai"

// "8:256" (inclusive) or "64": positive whole numbers, the first not above the second.
parsed<token_range> parse_token_range(std::string_view text);

// "uniform" or "log-uniform".
parsed<length_distribution> parse_length_distribution(std::string_view text);
std::string_view length_distribution_name(length_distribution distribution);

// A shell-safe rendering of argv, for reports that say how figures were made.
std::string quote_command_line(int argc, const char* const* argv);

}  // namespace surge::bench
