#include "frontends/http/shared_memory_routes.hpp"

#include <rapidjson/document.h>

#include "core/client_text.hpp"
#include "frontends/http/request_checks.hpp"
#include "wire/json_text.hpp"

namespace surge::http {

namespace http = beast::http;

namespace {

using wire::json_writer;
using wire::write_string;

response_message status_response(const std::vector<shared_memory_region_status>& regions, unsigned version) {
  rapidjson::StringBuffer buffer;
  json_writer w(buffer);
  w.StartArray();
  for (const auto& region : regions) {
    w.StartObject();
    w.Key("name");
    write_string(w, region.name);
    w.Key("key");
    write_string(w, region.key);
    w.Key("offset");
    w.Uint64(region.offset);
    w.Key("byte_size");
    w.Uint64(region.byte_size);
    w.EndObject();
  }
  w.EndArray();
  return json_response(http::status::ok, buffer.GetString(), version, true);
}

// {"key": "...", "offset": N, "byte_size": N}
response_message register_region(const std::string& name, const request_message& request,
                                 system_shared_memory& shared_memory) {
  const auto version = request.version();
  const auto bad = [&](std::string_view message) { return error_response(http::status::bad_request, message, version, true); };
  rapidjson::Document body;
  body.Parse(request.body().data(), request.body().size());
  if (body.HasParseError() || !body.IsObject()) return bad("the register body must be a JSON object {key, offset, byte_size}");
  const auto* key = wire::find_member(body, "key");
  if (!key || !key->IsString()) return bad("\"key\" must be a string (the shared memory key)");
  std::uint64_t offset = 0;
  if (const auto* given = wire::find_member(body, "offset")) {
    if (!given->IsUint64()) return bad("\"offset\" must be a non-negative integer");
    offset = given->GetUint64();
  }
  const auto* size = wire::find_member(body, "byte_size");
  if (!size || !size->IsUint64()) return bad("\"byte_size\" must be a non-negative integer");
  if (auto failure = shared_memory.register_region(name, std::string(key->GetString(), key->GetStringLength()), offset,
                                                   size->GetUint64())) {
    return bad(failure->message);
  }
  return json_response(http::status::ok, "{}", version, true);
}

}  // namespace

std::optional<response_message> serve_shared_memory(const std::vector<std::string_view>& parts,
                                                    const request_message& request,
                                                    system_shared_memory& shared_memory) {
  if (parts.size() < 3 || (parts[1] != "systemsharedmemory" && parts[1] != "cudasharedmemory")) return std::nullopt;
  const bool cuda = parts[1] == "cudasharedmemory";
  std::optional<std::string> name;
  std::string_view action;
  if (parts.size() == 3) {
    action = parts[2];
  } else if (parts.size() == 5 && parts[2] == "region") {
    name = std::string(parts[3]);
    action = parts[4];
  } else {
    return std::nullopt;
  }
  if (action != "status" && action != "register" && action != "unregister") return std::nullopt;
  const auto version = request.version();
  const auto method = request.method();
  if (action == "status") {
    if (method != http::verb::get && method != http::verb::post && method != http::verb::head) {
      return method_not_allowed(request, "GET, POST");
    }
    if (cuda) {
      if (name) {
        return error_response(http::status::bad_request,
                              "unable to find CUDA shared memory region '" + client_text(*name) +
                                  "': this surge build has no GPU support, so none can be registered",
                              version, true);
      }
      return json_response(http::status::ok, "[]", version, true);
    }
    auto regions = shared_memory.status(name);
    if (auto* failure = std::get_if<error>(&regions)) {
      return error_response(http::status::bad_request, failure->message, version, true);
    }
    return status_response(std::get<0>(regions), version);
  }
  if (method != http::verb::post) return method_not_allowed(request, "POST");
  if (action == "register") {
    if (!name) return std::nullopt;  // register always names its region
    if (cuda) {
      return error_response(http::status::bad_request,
                            "CUDA shared memory is not supported: this surge build has no GPU support; use system "
                            "shared memory (/v2/systemsharedmemory)",
                            version, true);
    }
    return register_region(*name, request, shared_memory);
  }
  // unregister
  if (!cuda) {
    if (name) shared_memory.unregister(*name);
    else shared_memory.unregister_all();
  }
  return json_response(http::status::ok, "{}", version, true);
}

}  // namespace surge::http
