#pragma once

// What `surge bench` prints: a table row per level (with a header saying what
// was measured, where and how), a one-line progress display, or one JSON
// document. Formatting only; the figures come from level_result.

#include <string>
#include <vector>

#include "bench/bench_options.hpp"
#include "bench/load_loop.hpp"
#include "bench/load_target.hpp"

namespace surge::bench {

struct machine_info {
  std::string hostname;
  std::string os;   // "Linux 6.1.0-18-amd64 x86_64"
  std::string cpu;  // the model name from /proc/cpuinfo; empty when unknown
  unsigned logical_cpus{0};
};

machine_info describe_machine();  // blocking reads; call before load starts

struct run_context {
  std::string surge_version;
  std::string started_at;  // ISO 8601, UTC
  machine_info machine;
  const bench_options* options{nullptr};
  const target_summary* target{nullptr};
};

std::string utc_timestamp_now();

// The lines above the table: what, where, how.
std::string format_header(const run_context& context);
std::string format_table_header(const bench_options& options);
std::string format_table_row(const level_result& level);
// Lines after the table: errors by kind and status, and notes such as an
// open loop whose client fell behind its schedule. Empty when there is nothing.
std::string format_footnotes(const run_context& context, const std::vector<level_result>& levels);

// One line without a newline, for "\r" redrawing.
std::string format_progress(const level_spec& spec, const loop_settings& settings, const level_run::progress& progress,
                            double recent_requests_per_second);

std::string format_json(const run_context& context, const std::vector<level_result>& levels);

std::string level_label(const level_spec& spec);  // "concurrency 64", "rate 200/s"

}  // namespace surge::bench
