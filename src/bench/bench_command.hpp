#pragma once

// `surge bench`: the command-line wiring and the run from setup to report.

#include <CLI/CLI.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "bench/bench_options.hpp"

namespace surge::bench {

// Flags as typed, before they are checked and converted into bench_options.
struct bench_arguments {
  bench_options options;
  std::string concurrency{"1"};
  std::string rate;
  std::string arrival{"constant"};
  std::string duration{"10s"};
  std::string warmup{"2s"};
  std::vector<std::string> shapes;
  unsigned timeout_ms{30000};
  std::string protocol{"http"};
  CLI::Option* url_option{nullptr};  // to tell a given --url from the default
  // --protocol openai
  std::string max_tokens;        // "N"
  std::string max_tokens_range;  // "MIN:MAX"
  std::string max_tokens_distribution{"uniform"};
  std::string temperature;       // empty: the server's default
};

CLI::App* add_bench_command(CLI::App& app, bench_arguments& arguments);

// Exit status: 0 when every level ran (HTTP errors are reported, not fatal),
// 2 when the arguments or the setup are wrong (unreachable server, unknown
// model, a request the server refuses), with the reason on stderr.
int run_bench_command(bench_arguments& arguments, int argc, const char* const* argv, std::string_view surge_version);

}  // namespace surge::bench
