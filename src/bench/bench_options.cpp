#include "bench/bench_options.hpp"

#include <charconv>
#include <cmath>

namespace surge::bench {

namespace {

std::string_view trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

std::vector<std::string_view> split(std::string_view text, char separator) {
  std::vector<std::string_view> parts;
  for (;;) {
    const auto at = text.find(separator);
    parts.push_back(trim(text.substr(0, at)));
    if (at == std::string_view::npos) break;
    text.remove_prefix(at + 1);
  }
  return parts;
}

template <typename T>
std::optional<T> whole_number(std::string_view text) {
  T value{};
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc{} || end != text.data() + text.size()) return std::nullopt;
  return value;
}

std::optional<double> real_number(std::string_view text) {
  double value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc{} || end != text.data() + text.size() || !std::isfinite(value)) return std::nullopt;
  return value;
}

std::string quoted(std::string_view text) { return "'" + std::string(text) + "'"; }

}  // namespace

parsed<std::chrono::nanoseconds> parse_duration(std::string_view text) {
  const auto trimmed = trim(text);
  const auto unit_at = trimmed.find_first_not_of("0123456789.");
  const auto number = trimmed.substr(0, unit_at);
  const auto unit = unit_at == std::string_view::npos ? std::string_view{} : trimmed.substr(unit_at);
  double ns_per_unit = 0;
  if (unit.empty() || unit == "s") {
    ns_per_unit = 1e9;
  } else if (unit == "ms") {
    ns_per_unit = 1e6;
  } else if (unit == "us") {
    ns_per_unit = 1e3;
  } else if (unit == "ns") {
    ns_per_unit = 1;
  } else if (unit == "m") {
    ns_per_unit = 60e9;
  } else if (unit == "h") {
    ns_per_unit = 3600e9;
  } else {
    return "duration " + quoted(text) + " has an unknown unit (use ns, us, ms, s, m or h)";
  }
  const auto value = real_number(number);
  if (number.empty() || !value) return "duration " + quoted(text) + " is not a number with a unit, e.g. 10s or 500ms";
  const double ns = *value * ns_per_unit;
  if (ns > 1e18) return "duration " + quoted(text) + " is too long";
  return std::chrono::nanoseconds(std::llround(ns));
}

parsed<std::vector<std::uint32_t>> parse_concurrency_list(std::string_view text) {
  std::vector<std::uint32_t> levels;
  for (const auto part : split(text, ',')) {
    const auto value = whole_number<std::uint32_t>(part);
    if (!value || *value == 0) {
      return "concurrency " + quoted(part) + " in " + quoted(text) + " is not a positive whole number";
    }
    levels.push_back(*value);
  }
  return levels;
}

parsed<std::vector<double>> parse_rate_list(std::string_view text) {
  std::vector<double> rates;
  for (const auto part : split(text, ',')) {
    const auto value = real_number(part);
    if (!value || *value <= 0) return "rate " + quoted(part) + " in " + quoted(text) + " is not a positive number";
    rates.push_back(*value);
  }
  return rates;
}

parsed<shape_override> parse_shape_override(std::string_view text) {
  const auto equals = text.find('=');
  if (equals == std::string_view::npos || trim(text.substr(0, equals)).empty()) {
    return "shape " + quoted(text) + " is not NAME=DIM,DIM,... (e.g. INPUT0=1,16)";
  }
  shape_override shape;
  shape.input = std::string(trim(text.substr(0, equals)));
  for (const auto part : split(text.substr(equals + 1), ',')) {
    const auto value = whole_number<std::int64_t>(part);
    if (!value || *value <= 0) return "shape " + quoted(text) + ": dimension " + quoted(part) + " is not positive";
    shape.dims.push_back(*value);
  }
  return shape;
}

parsed<server_address> parse_url(std::string_view text) {
  std::string_view rest = trim(text);
  if (rest.starts_with("https://")) return "url " + quoted(text) + ": https is not supported, use http://";
  if (rest.starts_with("http://")) rest.remove_prefix(7);
  if (rest.find("://") != std::string_view::npos) return "url " + quoted(text) + ": only http:// is supported";

  server_address address;
  const auto slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  if (slash != std::string_view::npos) {
    auto path = rest.substr(slash);
    while (path.ends_with('/')) path.remove_suffix(1);
    address.base_path = std::string(path);
  }
  std::string_view port;
  if (authority.starts_with('[')) {
    const auto close = authority.find(']');
    if (close == std::string_view::npos) return "url " + quoted(text) + ": unclosed '[' in the address";
    address.host = std::string(authority.substr(1, close - 1));
    const auto after = authority.substr(close + 1);
    if (!after.empty()) {
      if (!after.starts_with(':')) return "url " + quoted(text) + ": expected ':PORT' after the address";
      port = after.substr(1);
    }
  } else {
    const auto colon = authority.rfind(':');
    address.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) port = authority.substr(colon + 1);
  }
  if (address.host.empty()) return "url " + quoted(text) + " names no host";
  if (!port.empty()) {
    const auto value = whole_number<std::uint16_t>(port);
    if (!value || *value == 0) return "url " + quoted(text) + ": port " + quoted(port) + " is not a port number";
    address.port = std::string(port);
  }
  return address;
}

parsed<arrival_process> parse_arrival(std::string_view text) {
  if (text == "constant") return arrival_process::constant;
  if (text == "poisson") return arrival_process::poisson;
  return "arrival " + quoted(text) + " is neither constant nor poisson";
}

parsed<bench_protocol> parse_protocol(std::string_view text) {
  if (text == "http") return bench_protocol::http;
  if (text == "grpc") return bench_protocol::grpc;
  if (text == "openai") return bench_protocol::openai;
  return "protocol " + quoted(text) + " is not http, grpc or openai";
}

parsed<token_range> parse_token_range(std::string_view text) {
  const auto colon = text.find(':');
  const auto low_text = trim(text.substr(0, colon));
  const auto high_text = colon == std::string_view::npos ? low_text : trim(text.substr(colon + 1));
  const auto low = whole_number<std::uint32_t>(low_text);
  const auto high = whole_number<std::uint32_t>(high_text);
  if (!low || !high || *low == 0 || *high == 0) {
    return "max tokens " + quoted(text) + " is not N or MIN:MAX with positive whole numbers (e.g. 8:256)";
  }
  if (*low > *high) return "max tokens range " + quoted(text) + " has its minimum above its maximum";
  return token_range{*low, *high};
}

parsed<length_distribution> parse_length_distribution(std::string_view text) {
  if (text == "uniform") return length_distribution::uniform;
  if (text == "log-uniform") return length_distribution::log_uniform;
  return "distribution " + quoted(text) + " is neither uniform nor log-uniform";
}

std::string_view length_distribution_name(length_distribution distribution) {
  return distribution == length_distribution::log_uniform ? "log-uniform" : "uniform";
}

std::string quote_command_line(int argc, const char* const* argv) {
  std::string line;
  for (int i = 0; i < argc; ++i) {
    if (i != 0) line += ' ';
    const std::string_view arg = argv[i];
    const bool plain = !arg.empty() && arg.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                                             "0123456789-_./:=,@+%") == std::string_view::npos;
    if (plain) {
      line += arg;
      continue;
    }
    line += '\'';
    for (const char c : arg) {
      if (c == '\'') {
        line += "'\\''";
      } else {
        line += c;
      }
    }
    line += '\'';
  }
  return line;
}

}  // namespace surge::bench
