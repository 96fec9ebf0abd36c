// Raw bytes from an HTTP client, as one connection of the HTTP server
// receives them: Beast's request parser, bounded by the server's default
// header and body limits, reads one request after another (pipelined
// requests share the bytes), and each request is routed as the server
// routes it, through the same handlers: /v1/ to the OpenAI API, the rest to
// KServe v2. The registry holds one model that failed to load, so the
// model routes answer too. Invariants: every routed request gets a
// response, a JSON response is JSON, an error response says what went wrong,
// and a response serializes; a malformed request's refusal is JSON too.

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/write.hpp>

#include <cstddef>
#include <cstdint>
#include <exception>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>

#include "config/model_config.hpp"
#include "frontends/http/http_server.hpp"
#include "frontends/http/kserve_handler.hpp"
#include "frontends/http/prefix_router.hpp"
#include "frontends/openai/openai_handler.hpp"
#include "fuzz_checks.hpp"
#include "metrics/registry.hpp"
#include "router/model_registry.hpp"
#include "shared_memory/system_shared_memory.hpp"

namespace {

using namespace surge;
using fuzz::check;
namespace asio = boost::asio;
namespace beast_http = boost::beast::http;

// What main() builds for the HTTP port, without a listening socket.
struct server {
  server() : models(io.get_executor(), metrics), kserve(models, shared_memory), openai(models), routes(kserve), socket(io) {
    routes.add("/v1/", openai);
    kserve.set_ready(true);
    auto parsed = parse_model_config("name: \"broken\"\nbackend: \"missing\"\nmax_batch_size: 4\n", "config.pbtxt");
    model_entry entry;
    entry.name = "broken";
    entry.config = std::move(parsed.config);
    entry.versions = {1};
    models.load({std::move(entry)});  // no loader takes it: listed, with its error
  }

  asio::io_context io;
  metrics::registry metrics;
  model_registry models;
  system_shared_memory shared_memory;
  http::kserve_handler kserve;
  openai::openai_handler openai;
  http::prefix_router routes;
  // Lent to handlers; only the infer and generate routes of a served model
  // touch it, and no model is served.
  asio::ip::tcp::socket socket;
  http::connection_stream lent{socket};
};

server& the_server() {
  static auto* instance = new server();  // never destroyed: the loader thread outlives the fuzzer's exit
  return *instance;
}

void check_response(const http::response_message& response) {
  const auto status = static_cast<unsigned>(response.result_int());
  check(status >= 100 && status <= 599, "a response has an HTTP status");
  const auto type = response[beast_http::field::content_type];
  if (type == "application/json") fuzz::check_json(response.body(), "a JSON response body");
  if (status >= 400) {
    check(type == "application/json", "an error response is JSON");
    rapidjson::Document document;
    document.Parse(response.body().data(), response.body().size());
    check(document.IsObject() && document.HasMember("error"), "an error response has an \"error\" member");
    const auto& what = document["error"];
    // KServe: {"error": "<message>"}; OpenAI: {"error": {"message": "<message>", ...}}.
    const bool said = (what.IsString() && what.GetStringLength() > 0) ||
                      (what.IsObject() && what.HasMember("message") && what["message"].IsString() &&
                       what["message"].GetStringLength() > 0);
    check(said, "an error response says what went wrong");
  }
  std::ostringstream written;
  written << response;
  check(!written.str().empty(), "a response serializes");
}

void route(server& s, http::request_message& request) {
  std::optional<http::handler_result> result;
  std::exception_ptr thrown;
  asio::co_spawn(
      s.io, [&]() -> asio::awaitable<void> { result.emplace(co_await s.routes.handle(request, s.lent)); },
      [&](std::exception_ptr e) { thrown = e; });
  s.io.restart();
  s.io.run();
  if (thrown) std::rethrow_exception(thrown);  // a handler threw across the coroutine: a finding
  check(result.has_value(), "a routed request completes");
  check(!result->streamed, "no request streams without a served model");
  check(result->response.has_value(), "a routed request gets a response");
  check_response(*result->response);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto& s = the_server();
  const http::server_limits limits;  // the server's defaults
  std::string_view rest(reinterpret_cast<const char*>(data), size);
  // One request after another, as the server's connection loop reads them.
  for (int requests = 0; requests < 8; ++requests) {
    beast_http::request_parser<beast_http::string_body> parser;
    parser.header_limit(static_cast<std::uint32_t>(limits.header_limit_bytes));
    parser.body_limit(limits.body_limit_bytes);
    parser.eager(true);
    boost::beast::error_code ec;
    while (!parser.is_done()) {
      if (rest.empty()) {
        parser.put_eof(ec);
        break;
      }
      const auto used = parser.put(asio::buffer(rest.data(), rest.size()), ec);
      rest.remove_prefix(used);
      if (ec == beast_http::error::need_more) {
        ec = {};
        // It was given every byte left: wanting more without taking any is
        // the end of the stream in the middle of a header.
        if (used == 0) {
          parser.put_eof(ec);
          break;
        }
        continue;
      }
      if (ec) break;
    }
    if (ec || !parser.is_done()) {
      if (ec && ec != beast_http::error::partial_message && ec != beast_http::error::end_of_stream) {
        check_response(
            http::error_response(beast_http::status::bad_request, "malformed HTTP request: " + ec.message(), 11, false));
      }
      return 0;
    }
    auto request = parser.release();
    route(s, request);
    if (rest.empty()) return 0;
  }
  return 0;
}
