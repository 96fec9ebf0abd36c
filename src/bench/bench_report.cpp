#include "bench/bench_report.hpp"

#include <rapidjson/prettywriter.h>
#include <rapidjson/stringbuffer.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <cstdio>
#include <ctime>
#include <fstream>
#include <thread>

namespace surge::bench {

namespace {

using json_writer = rapidjson::PrettyWriter<rapidjson::StringBuffer>;

// printf into a std::string; every use here has a bounded width.
template <typename... Args>
std::string print(const char* format, Args... args) {
  char text[256];
  const int n = std::snprintf(text, sizeof text, format, args...);
  return std::string(text, n < 0 ? 0 : std::min<std::size_t>(static_cast<std::size_t>(n), sizeof text - 1));
}

double ms(std::chrono::nanoseconds value) { return static_cast<double>(value.count()) / 1e6; }
double us(std::chrono::nanoseconds value) { return static_cast<double>(value.count()) / 1e3; }
double seconds(std::chrono::nanoseconds value) { return static_cast<double>(value.count()) / 1e9; }

std::string duration_text(std::chrono::nanoseconds value) {
  const double s = seconds(value);
  return s == static_cast<double>(static_cast<long long>(s)) ? print("%lld s", static_cast<long long>(s))
                                                             : print("%.3g s", s);
}

std::string shape_text(const std::vector<std::int64_t>& shape) {
  std::string text = "[";
  for (std::size_t i = 0; i < shape.size(); ++i) text += (i ? "," : "") + std::to_string(shape[i]);
  return text + "]";
}

std::string bytes_text(std::size_t bytes) {
  if (bytes < 10 * 1024) return std::to_string(bytes) + " B";
  if (bytes < 10 * 1024 * 1024) return print("%.1f KiB", static_cast<double>(bytes) / 1024.0);
  return print("%.1f MiB", static_cast<double>(bytes) / (1024.0 * 1024.0));
}

std::string rate_text(double rate) {
  return rate == static_cast<double>(static_cast<long long>(rate)) ? print("%.0f", rate) : print("%g", rate);
}

std::string arrival_text(arrival_process process) {
  return process == arrival_process::poisson ? "poisson" : "constant";
}

void write_string(json_writer& w, std::string_view s) {
  w.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
}

// Three decimals: microseconds to the nanosecond, as the histogram knows them.
void write_rounded(json_writer& w, double value, double scale = 1000.0) {
  w.Double(static_cast<double>(std::llround(value * scale)) / scale);
}

std::string generation_request_text(const generation_summary& g, const bench_options& options) {
  std::string text = "POST " + g.endpoint + ", streamed; ";
  text += g.prompts == 1 ? "prompt " + bytes_text(g.prompt_bytes_max)
                         : std::to_string(g.prompts) + " prompts of " + std::to_string(g.prompt_bytes_min) + ".." +
                               std::to_string(g.prompt_bytes_max) + " B drawn per request";
  if (!options.prompt_file.empty()) text += " from " + options.prompt_file;
  text += "; max_tokens " + (g.max_tokens_min == g.max_tokens_max
                                 ? std::to_string(g.max_tokens_min)
                                 : std::to_string(g.max_tokens_min) + ".." + std::to_string(g.max_tokens_max) +
                                       " drawn per request (" + g.max_tokens_distribution + ")");
  if (g.ignore_eos) text += ", ignore_eos";
  if (g.temperature) text += ", temperature " + print("%g", *g.temperature);
  if (!g.usage_reported) text += "; the server sends no usage: tokens counted as events with text";
  return text;
}

void write_percentiles(json_writer& w, const latency_histogram& h) {
  w.StartObject();
  w.Key("p50");
  write_rounded(w, us(h.value_at_percentile(50)));
  w.Key("p90");
  write_rounded(w, us(h.value_at_percentile(90)));
  w.Key("p99");
  write_rounded(w, us(h.value_at_percentile(99)));
  w.Key("max");
  write_rounded(w, us(h.max()));
  w.Key("mean");
  write_rounded(w, us(h.mean()));
  w.Key("min");
  write_rounded(w, us(h.min()));
  w.Key("count");
  w.Uint64(h.count());
  w.EndObject();
}

std::string read_cpu_model() {
  std::ifstream cpuinfo("/proc/cpuinfo");
  std::string line;
  while (std::getline(cpuinfo, line)) {
    if (line.rfind("model name", 0) == 0) {
      const auto colon = line.find(':');
      if (colon != std::string::npos) {
        auto value = line.substr(colon + 1);
        value.erase(0, value.find_first_not_of(" \t"));
        return value;
      }
    }
  }
  return {};
}

}  // namespace

std::string level_label(const level_spec& spec) {
  return spec.mode == level_spec::loop::closed ? "concurrency " + std::to_string(spec.concurrency)
                                               : "rate " + rate_text(spec.rate) + "/s";
}

machine_info describe_machine() {
  machine_info machine;
  char host[256] = {};
  if (gethostname(host, sizeof host - 1) == 0) machine.hostname = host;
  utsname names{};
  if (uname(&names) == 0) machine.os = std::string(names.sysname) + " " + names.release + " " + names.machine;
  machine.cpu = read_cpu_model();
  machine.logical_cpus = std::thread::hardware_concurrency();
  return machine;
}

std::string utc_timestamp_now() {
  const std::time_t now = std::time(nullptr);
  std::tm utc{};
  gmtime_r(&now, &utc);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &utc);
  return text;
}

std::string format_header(const run_context& context) {
  const auto& options = *context.options;
  const auto& target = *context.target;
  std::string text = "surge " + context.surge_version + " bench, " + context.started_at + " on " +
                     context.machine.hostname + " (" + context.machine.os + ", " +
                     std::to_string(context.machine.logical_cpus) + " CPUs" +
                     (context.machine.cpu.empty() ? "" : ", " + context.machine.cpu) + ")\n";
  text += "  " + options.command_line + "\n";
  text += "  target: " + target.protocol + " " + target.url + ", model " + target.model +
          (target.version.empty() ? "" : " version " + target.version) + "\n";
  if (target.generation) {
    text += "  request: " + generation_request_text(*target.generation, options) + "\n";
  } else {
    text += "  request: " + target.encoding + ", " + bytes_text(target.request_bytes) + ", " +
            std::to_string(target.rows_per_request) + (target.rows_per_request == 1 ? " row" : " rows");
    for (const auto& input : target.inputs) {
      text += "; " + input.name + " " + input.datatype + " " + shape_text(input.shape);
    }
    if (!options.input_file.empty()) text += "; from " + options.input_file;
    text += "\n";
  }
  const bool open = !options.rates.empty();
  const std::string loop = open ? "open loop (" + arrival_text(options.arrival) + " arrivals)" : "closed loop";
  text += "  " + loop + ", " + duration_text(options.duration) + " measured per level after " +
          duration_text(options.warmup) + " of warm-up; " + std::to_string(options.threads) + " I/O thread" +
          (options.threads == 1 ? "" : "s") +
          (target.generation ? "; TTFT and e2e of successful requests" : "; latency of successful requests") +
          (open ? ", from when each was due" : "") + "\n";
  if (target.generation) {
    text += "  tok/s: generated tokens per second (the stream's usage counts); TTFT: to the first text; ITL: between "
            "successive events with text; e2e: to the end of the stream; times in milliseconds\n";
  }
  return text;
}

std::string format_table_header(const bench_options& options) {
  const bool open = !options.rates.empty();
  if (options.protocol == bench_protocol::openai) {
    return (open ? print("%10s %6s", "rate/s", "conns") : print("%11s", "concurrency")) +
           print(" %9s %8s %9s %9s %9s %9s %8s %8s %8s %9s %9s %7s\n", "requests", "req/s", "tok/s", "ttft p50",
                 "ttft p90", "ttft p99", "itl p50", "itl p90", "itl p99", "e2e p50", "e2e p99", "errors");
  }
  return (open ? print("%10s %6s", "rate/s", "conns") : print("%11s", "concurrency")) +
         print(" %10s %11s %11s %9s %9s %9s %9s %9s %9s %8s\n", "requests", "req/s", "rows/s", "p50 ms", "p90 ms",
               "p99 ms", "p99.9 ms", "max ms", "mean ms", "errors");
}

std::string format_table_row(const level_result& level) {
  const bool open = level.spec.mode == level_spec::loop::open;
  const auto& h = level.latency;
  if (level.stream) {
    const auto& ttft = level.stream->time_to_first_token;
    const auto& itl = level.stream->inter_token_latency;
    return (open ? print("%10s %6u", rate_text(level.spec.rate).c_str(), level.connections)
                 : print("%11u", level.spec.concurrency)) +
           print(" %9llu %8.1f %9.1f %9.2f %9.2f %9.2f %8.2f %8.2f %8.2f %9.1f %9.1f %7llu\n",
                 static_cast<unsigned long long>(level.requests), level.throughput_rps(),
                 level.output_tokens_per_second(), ms(ttft.value_at_percentile(50)), ms(ttft.value_at_percentile(90)),
                 ms(ttft.value_at_percentile(99)), ms(itl.value_at_percentile(50)), ms(itl.value_at_percentile(90)),
                 ms(itl.value_at_percentile(99)), ms(h.value_at_percentile(50)), ms(h.value_at_percentile(99)),
                 static_cast<unsigned long long>(level.errors()));
  }
  return (open ? print("%10s %6u", rate_text(level.spec.rate).c_str(), level.connections)
               : print("%11u", level.spec.concurrency)) +
         print(" %10llu %11.1f %11.1f %9.3f %9.3f %9.3f %9.3f %9.3f %9.3f %8llu\n",
               static_cast<unsigned long long>(level.requests), level.throughput_rps(), level.rows_per_second(),
               ms(h.value_at_percentile(50)), ms(h.value_at_percentile(90)), ms(h.value_at_percentile(99)),
               ms(h.value_at_percentile(99.9)), ms(h.max()), ms(h.mean()),
               static_cast<unsigned long long>(level.errors()));
}

std::string format_footnotes(const run_context& context, const std::vector<level_result>& levels) {
  const std::string protocol = context.target ? context.target->protocol : "kserve-http";
  const std::string status_prefix = protocol == "kserve-grpc" ? " x gRPC " : " x HTTP ";
  std::string text;
  for (const auto& level : levels) {
    if (level.errors() > 0) {
      std::string parts;
      for (const auto& [status, count] : level.errors_by_status) {
        parts += (parts.empty() ? "" : ", ") + std::to_string(count) + status_prefix + status_name(protocol, status);
      }
      for (const auto& [kind, count] : level.errors_by_kind) {
        parts += (parts.empty() ? "" : ", ") + std::to_string(count) + " x " + std::string(failure_name(kind));
      }
      text += "  errors at " + level_label(level.spec) + ": " + parts + "\n";
    }
    // A client that is often late means the figures include its own delay;
    // say so rather than let it pass for the server's. (A rare late send is
    // the OS scheduling the client, and is the server's cost too.)
    const auto lag_p99 = level.send_lag.value_at_percentile(99);
    if (level.spec.mode == level_spec::loop::open && lag_p99 > std::chrono::milliseconds(1)) {
      text += "  note: at " + level_label(level.spec) + " 1% of requests left more than " + print("%.3f", ms(lag_p99)) +
              " ms after they were due (at worst " + print("%.3f", ms(level.send_lag.max())) +
              " ms); latencies include that delay, so the client may be the bottleneck (more --threads or a lower "
              "rate would help)\n";
    }
    if (level.latency.clamped_count() > 0) {
      text += "  note: at " + level_label(level.spec) + ", " + std::to_string(level.latency.clamped_count()) +
              " latencies exceeded the histogram's 100 s range and count as 100 s in the percentiles\n";
    }
    if (level.stream && level.stream->without_text > 0) {
      text += "  note: at " + level_label(level.spec) + ", " + std::to_string(level.stream->without_text) +
              " successful streams carried no text (no TTFT for them)\n";
    }
    if (level.stream && level.stream->without_usage > 0) {
      text += "  note: at " + level_label(level.spec) + ", " + std::to_string(level.stream->without_usage) +
              " streams had no usage chunk; their tokens were counted as events with text\n";
    }
    if (level.internal_failures > 0) {
      text += "  warning: at " + level_label(level.spec) + ", " + std::to_string(level.internal_failures) +
              " request loops ended with an internal error\n";
    }
  }
  return text;
}

std::string format_progress(const level_spec& spec, const loop_settings& settings, const level_run::progress& p,
                            double recent_requests_per_second) {
  std::string phase;
  switch (p.current) {
    case level_run::phase::starting:
      phase = "starting";
      break;
    case level_run::phase::warmup:
      phase = "warm-up " + print("%.0f/%.0f s", seconds(p.in_phase), seconds(settings.warmup));
      break;
    case level_run::phase::measuring:
      phase = "measuring " + print("%.0f/%.0f s", seconds(p.in_phase), seconds(settings.duration));
      break;
    case level_run::phase::draining:
      phase = "finishing " + print("%.0f s", seconds(p.in_phase));
      break;
    case level_run::phase::done:
      phase = "done";
      break;
  }
  return "[" + level_label(spec) + "] " + phase +
         print(" | %.0f req/s | measured %llu, p99 %.3f ms, errors %llu | %u conns", recent_requests_per_second,
               static_cast<unsigned long long>(p.measured), ms(p.p99),
               static_cast<unsigned long long>(p.measured_errors), p.connections);
}

std::string format_json(const run_context& context, const std::vector<level_result>& levels) {
  const auto& options = *context.options;
  const auto& target = *context.target;
  rapidjson::StringBuffer buffer;
  json_writer w(buffer);
  w.SetIndent(' ', 2);
  w.StartObject();
  w.Key("tool");
  w.String("surge bench");
  w.Key("surge_version");
  write_string(w, context.surge_version);
  w.Key("started_at");
  write_string(w, context.started_at);
  w.Key("command_line");
  write_string(w, options.command_line);

  w.Key("machine");
  w.StartObject();
  w.Key("hostname");
  write_string(w, context.machine.hostname);
  w.Key("os");
  write_string(w, context.machine.os);
  w.Key("cpu");
  write_string(w, context.machine.cpu);
  w.Key("logical_cpus");
  w.Uint(context.machine.logical_cpus);
  w.EndObject();

  w.Key("target");
  w.StartObject();
  w.Key("protocol");
  write_string(w, target.protocol);
  w.Key("url");
  write_string(w, target.url);
  w.Key("model");
  write_string(w, target.model);
  w.Key("version");
  write_string(w, target.version);
  w.Key("encoding");
  write_string(w, target.encoding);
  w.Key("request_bytes");
  w.Uint64(target.request_bytes);
  w.Key("rows_per_request");
  w.Int64(target.rows_per_request);
  w.Key("inputs");
  w.StartArray();
  for (const auto& input : target.inputs) {
    w.StartObject();
    w.Key("name");
    write_string(w, input.name);
    w.Key("datatype");
    write_string(w, input.datatype);
    w.Key("shape");
    w.StartArray();
    for (auto d : input.shape) w.Int64(d);
    w.EndArray();
    w.EndObject();
  }
  w.EndArray();
  if (target.generation) {
    const auto& g = *target.generation;
    w.Key("generation");
    w.StartObject();
    w.Key("endpoint");
    write_string(w, g.endpoint);
    w.Key("prompts");
    w.Uint64(g.prompts);
    w.Key("prompt_bytes_min");
    w.Uint64(g.prompt_bytes_min);
    w.Key("prompt_bytes_max");
    w.Uint64(g.prompt_bytes_max);
    w.Key("max_tokens_min");
    w.Uint(g.max_tokens_min);
    w.Key("max_tokens_max");
    w.Uint(g.max_tokens_max);
    w.Key("max_tokens_distribution");
    write_string(w, g.max_tokens_distribution);
    w.Key("ignore_eos");
    w.Bool(g.ignore_eos);
    w.Key("temperature");
    if (g.temperature) {
      w.Double(*g.temperature);
    } else {
      w.Null();
    }
    w.Key("usage_reported");
    w.Bool(g.usage_reported);
    w.EndObject();
  }
  w.EndObject();

  const bool open = !options.rates.empty();
  w.Key("settings");
  w.StartObject();
  w.Key("loop");
  w.String(open ? "open" : "closed");
  if (open) {
    w.Key("arrival");
    write_string(w, arrival_text(options.arrival));
    w.Key("seed");
    w.Uint64(options.seed);
    w.Key("max_connections");
    w.Uint(options.max_connections);
  }
  w.Key("duration_s");
  w.Double(seconds(options.duration));
  w.Key("warmup_s");
  w.Double(seconds(options.warmup));
  w.Key("threads");
  w.Uint(options.threads);
  w.Key("timeout_ms");
  w.Int64(options.timeout.count());
  w.EndObject();

  w.Key("levels");
  w.StartArray();
  for (const auto& level : levels) {
    const auto& h = level.latency;
    w.StartObject();
    w.Key("concurrency");
    if (level.spec.mode == level_spec::loop::closed) {
      w.Uint(level.spec.concurrency);
    } else {
      w.Null();
    }
    w.Key("rate_rps");
    if (level.spec.mode == level_spec::loop::open) {
      w.Double(level.spec.rate);
    } else {
      w.Null();
    }
    w.Key("connections");
    w.Uint(level.connections);
    w.Key("duration_s");
    write_rounded(w, level.elapsed_seconds(), 1e6);
    w.Key("requests");
    w.Uint64(level.requests);
    w.Key("successes");
    w.Uint64(level.successes);
    w.Key("throughput_rps");
    write_rounded(w, level.throughput_rps());
    w.Key("rows_per_s");
    write_rounded(w, level.rows_per_second());
    w.Key("latency_us");
    w.StartObject();
    w.Key("p50");
    write_rounded(w, us(h.value_at_percentile(50)));
    w.Key("p90");
    write_rounded(w, us(h.value_at_percentile(90)));
    w.Key("p99");
    write_rounded(w, us(h.value_at_percentile(99)));
    w.Key("p999");
    write_rounded(w, us(h.value_at_percentile(99.9)));
    w.Key("max");
    write_rounded(w, us(h.max()));
    w.Key("mean");
    write_rounded(w, us(h.mean()));
    w.Key("min");
    write_rounded(w, us(h.min()));
    w.EndObject();
    if (level.spec.mode == level_spec::loop::open) {
      // How late requests left after they were due: the client's own share of the latency.
      w.Key("send_lag_us");
      w.StartObject();
      w.Key("p50");
      write_rounded(w, us(level.send_lag.value_at_percentile(50)));
      w.Key("p99");
      write_rounded(w, us(level.send_lag.value_at_percentile(99)));
      w.Key("max");
      write_rounded(w, us(level.send_lag.max()));
      w.EndObject();
    }
    if (level.stream) {
      const auto& stream = *level.stream;
      w.Key("output_tokens");
      w.Uint64(stream.output_tokens);
      w.Key("output_tokens_per_s");
      write_rounded(w, level.output_tokens_per_second());
      w.Key("time_to_first_token_us");
      write_percentiles(w, stream.time_to_first_token);
      w.Key("inter_token_latency_us");
      write_percentiles(w, stream.inter_token_latency);
      w.Key("time_per_output_token_us");
      write_percentiles(w, stream.time_per_output_token);
      w.Key("streams_without_text");
      w.Uint64(stream.without_text);
      w.Key("streams_without_usage");
      w.Uint64(stream.without_usage);
    }
    w.Key("errors");
    w.StartObject();
    w.Key("total");
    w.Uint64(level.errors());
    w.Key("by_status");
    w.StartObject();
    for (const auto& [status, count] : level.errors_by_status) {
      write_string(w, status_name(context.target ? context.target->protocol : "kserve-http", status));
      w.Uint64(count);
    }
    w.EndObject();
    w.Key("by_kind");
    w.StartObject();
    for (const auto& [kind, count] : level.errors_by_kind) {
      write_string(w, failure_name(kind));
      w.Uint64(count);
    }
    w.EndObject();
    w.EndObject();
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
  return std::string(buffer.GetString(), buffer.GetSize()) + "\n";
}

}  // namespace surge::bench
