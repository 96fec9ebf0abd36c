#include "frontends/sampling_json.hpp"

#include <cmath>
#include <limits>

namespace surge {

namespace {

// null counts as absent, as OpenAI clients send explicit nulls.
const rapidjson::Value* field(const rapidjson::Value& object, const char* name) {
  const auto it = object.FindMember(name);
  if (it == object.MemberEnd() || it->value.IsNull()) return nullptr;
  return &it->value;
}

}  // namespace

std::optional<std::string> read_sampling_parameters(const rapidjson::Value& object, sampling_parameters& out) {
  if (const auto* v = field(object, "max_tokens")) {
    if (!v->IsUint64() || v->GetUint64() < 1 || v->GetUint64() > std::numeric_limits<std::uint32_t>::max()) {
      return "'max_tokens' must be a positive integer";
    }
    out.max_tokens = static_cast<std::uint32_t>(v->GetUint64());
  }
  if (const auto* v = field(object, "temperature")) {
    if (!v->IsNumber() || !std::isfinite(v->GetDouble()) || v->GetDouble() < 0.0) {
      return "'temperature' must be a number >= 0";
    }
    out.temperature = static_cast<float>(v->GetDouble());
  }
  if (const auto* v = field(object, "top_p")) {
    if (!v->IsNumber() || !(v->GetDouble() > 0.0) || v->GetDouble() > 1.0) return "'top_p' must be in (0, 1]";
    out.top_p = static_cast<float>(v->GetDouble());
  }
  if (const auto* v = field(object, "top_k")) {
    // -1 means no limit in vLLM's API.
    if (v->IsInt64() && v->GetInt64() == -1) {
      out.top_k = 0;
    } else if (!v->IsUint64() || v->GetUint64() > std::numeric_limits<std::uint32_t>::max()) {
      return "'top_k' must be a non-negative integer (or -1 for no limit)";
    } else {
      out.top_k = static_cast<std::uint32_t>(v->GetUint64());
    }
  }
  if (const auto* v = field(object, "seed")) {
    if (v->IsUint64()) out.seed = v->GetUint64();
    else if (v->IsInt64()) out.seed = static_cast<std::uint64_t>(v->GetInt64());
    else return "'seed' must be an integer";
  }
  if (const auto* v = field(object, "stop")) {
    if (v->IsString()) {
      out.stop.emplace_back(v->GetString(), v->GetStringLength());
    } else if (v->IsArray()) {
      if (v->Size() > 16) return "'stop' takes at most 16 strings";
      for (const auto& s : v->GetArray()) {
        if (!s.IsString()) return "'stop' must be a string or an array of strings";
        out.stop.emplace_back(s.GetString(), s.GetStringLength());
      }
    } else {
      return "'stop' must be a string or an array of strings";
    }
  }
  if (const auto* v = field(object, "ignore_eos")) {
    if (!v->IsBool()) return "'ignore_eos' must be true or false";
    out.ignore_eos = v->GetBool();
  }
  return std::nullopt;
}

}  // namespace surge
