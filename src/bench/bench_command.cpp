#include "bench/bench_command.hpp"

#include <unistd.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>
#include <charconv>
#include <cmath>
#include <iostream>
#include <thread>

#include "bench/bench_report.hpp"
#include "bench/kserve_grpc_target.hpp"
#include "bench/kserve_http_target.hpp"
#include "bench/load_loop.hpp"
#include "bench/openai_stream_target.hpp"

namespace surge::bench {

namespace asio = boost::asio;
using asio::as_tuple;
using asio::use_awaitable;

namespace {

constexpr int setup_failure = 2;

template <typename T>
bool take(parsed<T> result, T& into, std::string& problem) {
  if (auto* message = std::get_if<std::string>(&result)) {
    problem = *message;
    return false;
  }
  into = std::move(std::get<T>(result));
  return true;
}

// The flags of --protocol openai, and that they are given only with it.
std::optional<std::string> finish_openai_options(bench_arguments& arguments) {
  auto& options = arguments.options;
  if (options.protocol != bench_protocol::openai) {
    if (options.chat || options.ignore_eos || !options.prompt.empty() || !options.prompt_file.empty() ||
        !arguments.max_tokens.empty() || !arguments.max_tokens_range.empty() || !arguments.temperature.empty() ||
        arguments.max_tokens_distribution != "uniform") {
      return std::string(
          "--chat, --prompt, --prompt-file, --max-tokens, --max-tokens-range, --max-tokens-distribution, "
          "--ignore-eos and --temperature apply to --protocol openai");
    }
    return std::nullopt;
  }
  if (!options.input_file.empty() || !arguments.shapes.empty() || options.rows != 1 || options.binary) {
    return std::string("--input-file, --shape, --rows and --binary apply to KServe tensors, not --protocol openai");
  }
  if (!options.version.empty()) {
    return std::string("--version does not apply to --protocol openai (models are named, not versioned)");
  }
  if (options.prompt.empty() && options.prompt_file.empty()) options.prompt = "In the beginning";
  std::string problem;
  if (!arguments.max_tokens.empty() && !take(parse_token_range(arguments.max_tokens), options.max_tokens, problem)) {
    return problem;
  }
  if (!arguments.max_tokens_range.empty() &&
      !take(parse_token_range(arguments.max_tokens_range), options.max_tokens, problem)) {
    return problem;
  }
  if (!take(parse_length_distribution(arguments.max_tokens_distribution), options.max_tokens_distribution, problem)) {
    return problem;
  }
  if (!arguments.temperature.empty()) {
    const auto& text = arguments.temperature;
    double value = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc{} || end != text.data() + text.size() || !std::isfinite(value) || value < 0) {
      return "--temperature '" + text + "' is not a number >= 0";
    }
    options.temperature = value;
  }
  return std::nullopt;
}

std::unique_ptr<load_target> make_target(const asio::any_io_executor& executor, const bench_options& options) {
  switch (options.protocol) {
    case bench_protocol::grpc:
      return std::make_unique<kserve_grpc_target>(executor, options);
    case bench_protocol::openai:
      return std::make_unique<openai_stream_target>(executor, options);
    case bench_protocol::http:
      break;
  }
  return std::make_unique<kserve_http_target>(executor, options);
}

// Converts the typed flags; the message names the offending flag's value.
std::optional<std::string> finish_options(bench_arguments& arguments) {
  auto& options = arguments.options;
  std::string problem;
  if (!take(parse_protocol(arguments.protocol), options.protocol, problem)) return problem;
  if (options.protocol == bench_protocol::grpc) {
    const bool url_given = arguments.url_option && arguments.url_option->count() > 0;
    if (!url_given) options.url = "127.0.0.1:8001";
    if (options.url.starts_with("grpc://")) options.url.erase(0, 7);
    if (options.binary) return std::string("--binary is HTTP's binary tensor extension; gRPC always sends tensors raw");
  }
  if (!take(parse_url(options.url), options.address, problem)) return problem;
  if (options.protocol == bench_protocol::grpc && !options.address.base_path.empty()) {
    return "url '" + options.url + "': a gRPC address is HOST:PORT, without a path";
  }
  if (!take(parse_concurrency_list(arguments.concurrency), options.concurrency, problem)) return problem;
  if (!arguments.rate.empty() && !take(parse_rate_list(arguments.rate), options.rates, problem)) return problem;
  if (!take(parse_arrival(arguments.arrival), options.arrival, problem)) return problem;
  if (!take(parse_duration(arguments.duration), options.duration, problem)) return problem;
  if (options.duration.count() <= 0) return std::string("--duration must be longer than 0");
  if (!take(parse_duration(arguments.warmup), options.warmup, problem)) return problem;
  for (const auto& text : arguments.shapes) {
    shape_override shape;
    if (!take(parse_shape_override(text), shape, problem)) return problem;
    options.shapes.push_back(std::move(shape));
  }
  if (!options.input_file.empty() && (!options.shapes.empty() || options.rows != 1)) {
    return std::string("--input-file gives the whole request; it does not combine with --shape or --rows");
  }
  options.timeout = std::chrono::milliseconds(arguments.timeout_ms);
  if (auto problem = finish_openai_options(arguments)) return problem;
  return std::nullopt;
}

std::vector<level_spec> levels_of(const bench_options& options) {
  std::vector<level_spec> levels;
  if (!options.rates.empty()) {
    for (const double rate : options.rates) levels.push_back({level_spec::loop::open, 0, rate});
  } else {
    for (const auto concurrency : options.concurrency) levels.push_back({level_spec::loop::closed, concurrency, 0});
  }
  return levels;
}

// Redraws one line on stderr every second until cancelled (by the level
// finishing), then erases it so the table row lands on a clean line.
asio::awaitable<void> show_progress(const level_run& run) {
  asio::steady_timer tick(co_await asio::this_coro::executor);
  auto last_count = run.snapshot().completed;
  auto last_time = bench_clock::now();
  for (;;) {
    tick.expires_after(std::chrono::seconds(1));
    auto [ec] = co_await tick.async_wait(as_tuple(use_awaitable));
    if (ec) break;
    const auto progress = run.snapshot();
    const auto now = bench_clock::now();
    const double interval = std::chrono::duration<double>(now - last_time).count();
    const double rate = interval > 0 ? static_cast<double>(progress.completed - last_count) / interval : 0.0;
    last_count = progress.completed;
    last_time = now;
    std::cerr << "\r\033[K" << format_progress(run.spec(), run.settings(), progress, rate) << std::flush;
  }
  std::cerr << "\r\033[K" << std::flush;
}

asio::awaitable<int> bench_main(const bench_options& options, run_context& context,
                                std::vector<level_result>& results, bool show_live_progress) {
  using namespace asio::experimental::awaitable_operators;
  const auto executor = co_await asio::this_coro::executor;

  const auto target_ptr = make_target(executor, options);
  auto& target = *target_ptr;
  if (auto problem = co_await target.prepare()) {
    std::cerr << "surge bench: " << *problem << std::endl;
    co_return setup_failure;
  }
  context.target = &target.summary();

  if (!options.json) {
    std::cout << format_header(context) << "\n" << format_table_header(options) << std::flush;
  }
  loop_settings settings;
  settings.warmup = options.warmup;
  settings.duration = options.duration;
  settings.arrival = options.arrival;
  settings.seed = options.seed;
  settings.max_connections = options.max_connections;

  for (const auto& spec : levels_of(options)) {
    level_run run(executor, target, spec, settings);
    if (show_live_progress) {
      co_await (run.run() || show_progress(run));
    } else {
      co_await run.run();
    }
    results.push_back(run.result());
    if (!options.json) std::cout << format_table_row(results.back()) << std::flush;
  }

  if (options.json) {
    std::cout << format_json(context, results) << std::flush;
  } else if (const auto notes = format_footnotes(context, results); !notes.empty()) {
    std::cout << "\n" << notes << std::flush;
  }
  // The target summary lives in this frame; the caller must not use it after.
  context.target = nullptr;
  co_return 0;
}

}  // namespace

CLI::App* add_bench_command(CLI::App& app, bench_arguments& arguments) {
  auto& options = arguments.options;
  auto* command = app.add_subcommand(
      "bench", "Measure a KServe v2 (HTTP or gRPC) or OpenAI-compatible server's throughput and latency under load");
  command
      ->add_option("--protocol", arguments.protocol,
                   "What to send: http (KServe v2 inference over HTTP), grpc (KServe v2 inference over gRPC) or "
                   "openai (streamed completions, per-token figures)")
      ->capture_default_str()
      ->check(CLI::IsMember({"http", "grpc", "openai"}));
  arguments.url_option = command
                             ->add_option("--url", options.url,
                                          "Server to load: http://HOST:PORT (grpc: HOST:PORT, default 127.0.0.1:8001)")
                             ->capture_default_str();
  command->add_option("--model", options.model, "Model to send requests to")->required();
  command->add_option("--version", options.version, "Model version (default: the server's choice)");
  auto* concurrency =
      command
          ->add_option("--concurrency", arguments.concurrency,
                       "Closed loop: connections sending back to back; a list sweeps, e.g. 1,4,16,64")
          ->capture_default_str();
  auto* rate = command->add_option("--rate", arguments.rate,
                                   "Open loop: requests per second, sent on schedule whatever the server's pace; a "
                                   "list sweeps, e.g. 100,200,400");
  rate->excludes(concurrency);
  command->add_option("--arrival", arguments.arrival, "Open loop schedule: constant or poisson")
      ->capture_default_str()
      ->check(CLI::IsMember({"constant", "poisson"}));
  command->add_option("--seed", options.seed, "Seed of the Poisson schedule and the random inputs")
      ->capture_default_str();
  command->add_option("--duration", arguments.duration, "Measured time per level: 10s, 500ms, 2m")
      ->capture_default_str();
  command->add_option("--warmup", arguments.warmup, "Unmeasured load before each level")->capture_default_str();
  command->add_option("--rows", options.rows, "Batch dimension of synthesized inputs")
      ->check(CLI::Range(std::int64_t{1}, std::int64_t{1} << 30))
      ->capture_default_str();
  command->add_option("--shape", arguments.shapes,
                      "Shape of an input with variable dimensions: NAME=DIM,... (full shape, or without the batch "
                      "dimension); repeatable")
      ->expected(1)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  command->add_option("--string-length", options.string_length, "Bytes per synthesized BYTES element")
      ->capture_default_str();
  command->add_flag("--binary", options.binary, "Send tensors with Triton's binary tensor extension instead of JSON");
  command->add_option("--input-file", options.input_file, "A KServe v2 JSON infer request body to send")
      ->check(CLI::ExistingFile);
  auto* prompt = command->add_option("--prompt", options.prompt,
                                     "openai: the prompt of every request (default: In the beginning)");
  command
      ->add_option("--prompt-file", options.prompt_file,
                   "openai: prompts, one per line; each request draws one (seeded by --seed)")
      ->check(CLI::ExistingFile)
      ->excludes(prompt);
  auto* max_tokens =
      command->add_option("--max-tokens", arguments.max_tokens, "openai: max_tokens of every request (default 64)");
  command
      ->add_option("--max-tokens-range", arguments.max_tokens_range,
                   "openai: MIN:MAX; each request draws its max_tokens uniformly (seeded by --seed)")
      ->excludes(max_tokens);
  command
      ->add_option("--max-tokens-distribution", arguments.max_tokens_distribution,
                   "openai: how --max-tokens-range is drawn: uniform, or log-uniform (many short, few long)")
      ->capture_default_str()
      ->check(CLI::IsMember({"uniform", "log-uniform"}));
  command->add_flag("--chat", options.chat, "openai: /v1/chat/completions instead of /v1/completions");
  command->add_flag("--ignore-eos", options.ignore_eos,
                    "openai: ask the server to generate all max_tokens (\"ignore_eos\": true)");
  command->add_option("--temperature", arguments.temperature, "openai: sampling temperature (default: the server's)");
  command->add_flag("--json", options.json, "Print one JSON document instead of the table");
  command->add_option("--timeout-ms", arguments.timeout_ms, "Per-request limit, connect included")
      ->check(CLI::Range(1u, 3'600'000u))
      ->capture_default_str();
  command->add_option("--threads", options.threads, "I/O threads of the load generator")
      ->check(CLI::Range(1u, 64u))
      ->capture_default_str();
  command->add_option("--max-connections", options.max_connections,
                      "Open loop: connections at most; a request due when all are busy is a client_saturated error")
      ->check(CLI::Range(1u, 65535u))
      ->capture_default_str();
  return command;
}

int run_bench_command(bench_arguments& arguments, int argc, const char* const* argv, std::string_view surge_version) {
  if (auto problem = finish_options(arguments)) {
    std::cerr << "surge bench: " << *problem << std::endl;
    return setup_failure;
  }
  auto& options = arguments.options;
  options.command_line = quote_command_line(argc, argv);

  run_context context;
  context.surge_version = std::string(surge_version);
  context.started_at = utc_timestamp_now();
  context.machine = describe_machine();
  context.options = &options;
  // A progress line only for a person watching: never into a file or a pipe.
  const bool show_live_progress = isatty(STDOUT_FILENO) && isatty(STDERR_FILENO);

  asio::io_context io(static_cast<int>(options.threads));
  std::vector<level_result> results;
  auto finished = asio::co_spawn(io, bench_main(options, context, results, show_live_progress), asio::use_future);
  std::vector<std::thread> threads;
  for (unsigned i = 0; i < options.threads; ++i) threads.emplace_back([&io] { io.run(); });
  int status = setup_failure;
  try {
    status = finished.get();
  } catch (const std::exception& e) {
    std::cerr << "surge bench: " << e.what() << std::endl;
  }
  io.stop();
  for (auto& thread : threads) thread.join();
  return status;
}

}  // namespace surge::bench
