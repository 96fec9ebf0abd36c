#include "bench/openai_request.hpp"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <cmath>

namespace surge::bench {

std::string_view openai_path(bool chat) { return chat ? "/v1/chat/completions" : "/v1/completions"; }

std::string openai_request_body(const openai_request_settings& settings, std::size_t prompt_index,
                                std::uint32_t max_tokens) {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> w(buffer);
  const auto string = [&w](std::string_view s) { w.String(s.data(), static_cast<rapidjson::SizeType>(s.size())); };
  const auto& prompt = settings.prompts.at(prompt_index);
  w.StartObject();
  w.Key("model");
  string(settings.model);
  if (settings.chat) {
    w.Key("messages");
    w.StartArray();
    w.StartObject();
    w.Key("role");
    w.String("user");
    w.Key("content");
    string(prompt);
    w.EndObject();
    w.EndArray();
  } else {
    w.Key("prompt");
    string(prompt);
  }
  w.Key("max_tokens");
  w.Uint(max_tokens);
  if (settings.temperature) {
    w.Key("temperature");
    w.Double(*settings.temperature);
  }
  if (settings.ignore_eos) {
    w.Key("ignore_eos");
    w.Bool(true);
  }
  w.Key("stream");
  w.Bool(true);
  w.Key("stream_options");
  w.StartObject();
  w.Key("include_usage");
  w.Bool(true);
  w.EndObject();
  w.EndObject();
  return std::string(buffer.GetString(), buffer.GetSize());
}

parsed<std::vector<std::string>> prompts_from_text(std::string_view text) {
  std::vector<std::string> prompts;
  while (!text.empty()) {
    const auto end = text.find('\n');
    auto line = text.substr(0, end);
    if (line.ends_with('\r')) line.remove_suffix(1);
    if (!line.empty()) prompts.emplace_back(line);
    if (end == std::string_view::npos) break;
    text.remove_prefix(end + 1);
  }
  if (prompts.empty()) return std::string("holds no prompt (one per line; empty lines are skipped)");
  return prompts;
}

openai_request_picker::openai_request_picker(const openai_request_settings& settings, std::uint64_t seed)
    : random_(seed),
      prompt_(0, settings.prompts.empty() ? 0 : settings.prompts.size() - 1),
      distribution_(settings.max_tokens_distribution),
      range_(settings.max_tokens),
      uniform_(settings.max_tokens.min, settings.max_tokens.max),
      // Half a token beyond each bound, so that rounding gives the bounds
      // their fair share of draws.
      log_uniform_(std::log(settings.max_tokens.min - 0.5), std::log(settings.max_tokens.max + 0.5)) {}

openai_request_picker::choice openai_request_picker::next() {
  choice c;
  c.prompt_index = prompt_(random_);
  if (distribution_ == length_distribution::uniform) {
    c.max_tokens = uniform_(random_);
  } else {
    const double drawn = std::round(std::exp(log_uniform_(random_)));
    c.max_tokens = std::clamp(static_cast<std::uint32_t>(drawn), range_.min, range_.max);
  }
  return c;
}

}  // namespace surge::bench
