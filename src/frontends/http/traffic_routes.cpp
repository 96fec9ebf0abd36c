#include "frontends/http/traffic_routes.hpp"

#include <rapidjson/document.h>

#include <charconv>
#include <string>

#include "core/client_text.hpp"
#include "frontends/http/request_checks.hpp"
#include "wire/json_text.hpp"

namespace surge::http {

namespace http = beast::http;

namespace {

using wire::json_writer;
using wire::write_string;

// A weight is a share, not a count: anything above this is a typo.
constexpr std::uint64_t max_weight = 1'000'000;

response_message describe(const registered_model& model, unsigned version) {
  rapidjson::StringBuffer buffer;
  json_writer w(buffer);
  w.StartObject();
  w.Key("model");
  write_string(w, model.name);
  w.Key("loaded");
  w.StartArray();
  for (const auto& [number, loaded] : model.versions) write_string(w, std::to_string(number));
  w.EndArray();
  const auto split = model.traffic ? model.traffic->get() : nullptr;
  w.Key("versions");
  w.StartObject();
  if (split) {
    for (const auto& [number, weight] : split->by_version()) {
      w.Key(std::to_string(number).c_str());
      w.Uint(weight);
    }
  }
  w.EndObject();
  w.Key("default");
  write_string(w, split ? "split" : "highest");
  w.EndObject();
  return json_response(http::status::ok, buffer.GetString(), version, true);
}

// {"versions": {"<version>": weight, ...}}
std::variant<std::shared_ptr<const traffic_split>, std::string> parse_split(std::string_view text) {
  rapidjson::Document body;
  body.Parse(text.data(), text.size());
  if (body.HasParseError() || !body.IsObject()) {
    return std::string("the traffic body must be a JSON object {\"versions\": {\"<version>\": weight, ...}}");
  }
  const rapidjson::Value& root = body;  // const iterators: clang finds the mutable ones' != ambiguous
  for (auto member = root.MemberBegin(); member != root.MemberEnd(); ++member) {
    const std::string_view name(member->name.GetString(), member->name.GetStringLength());
    if (name != "versions") return "unknown field \"" + client_text(name) + "\" (the body has \"versions\")";
  }
  const auto* versions = wire::find_member(body, "versions");
  if (!versions || !versions->IsObject()) {
    return std::string("\"versions\" must be an object of version to weight, e.g. {\"1\": 90, \"2\": 10}");
  }
  if (versions->MemberCount() == 0) return std::string("\"versions\" names no version");
  traffic_split::weights weights;
  for (auto member = versions->MemberBegin(); member != versions->MemberEnd(); ++member) {
    const std::string_view key(member->name.GetString(), member->name.GetStringLength());
    std::int64_t number = 0;
    const auto [end, ec] = std::from_chars(key.data(), key.data() + key.size(), number);
    if (ec != std::errc{} || end != key.data() + key.size() || number < 1) {
      return "version \"" + client_text(key) + "\" is not a positive integer";
    }
    for (const auto& [seen, weight] : weights) {
      if (seen == number) return "version " + std::to_string(number) + " is named twice";
    }
    if (!member->value.IsUint64() || member->value.GetUint64() > max_weight) {
      return "the weight of version " + std::to_string(number) + " must be an integer from 0 to " +
             std::to_string(max_weight);
    }
    weights.emplace_back(number, static_cast<std::uint32_t>(member->value.GetUint64()));
  }
  return std::make_shared<const traffic_split>(std::move(weights));
}

}  // namespace

std::optional<response_message> serve_traffic(const std::vector<std::string_view>& parts,
                                              const request_message& request, model_registry& models) {
  if (parts.size() != 4 || parts[1] != "models" || parts[3] != "traffic") return std::nullopt;
  const auto version = request.version();
  const std::string name(parts[2]);
  const auto method = request.method();
  if (method != http::verb::get && method != http::verb::head && method != http::verb::post &&
      method != http::verb::delete_) {
    return method_not_allowed(request, "GET, HEAD, POST, DELETE");
  }
  if (method == http::verb::post || method == http::verb::delete_) {
    std::shared_ptr<const traffic_split> split;
    if (method == http::verb::post) {
      auto parsed = parse_split(request.body());
      if (auto* problem = std::get_if<std::string>(&parsed)) {
        return error_response(http::status::bad_request, *problem, version, true);
      }
      split = std::get<std::shared_ptr<const traffic_split>>(std::move(parsed));
    }
    if (auto failure = models.set_traffic(name, std::move(split))) {
      return error_response(status_for(failure->code), client_text(failure->message), version, true);
    }
  }
  const auto snapshot = models.snapshot();
  const auto* model = snapshot->find(name);
  if (!model) return error_response(http::status::not_found, unknown_model_message(name), version, true);
  return describe(*model, version);
}

}  // namespace surge::http
