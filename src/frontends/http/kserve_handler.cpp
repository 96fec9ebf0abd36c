#include "frontends/http/kserve_handler.hpp"
#include "frontends/http/request_checks.hpp"

#include <google/protobuf/util/json_util.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <charconv>
#include <mutex>

#include "core/client_text.hpp"
#include "config/model_config.hpp"
#include "wire/kserve_request.hpp"
#include "wire/kserve_response.hpp"
#include "frontends/http/kserve_generate.hpp"
#include "frontends/http/shared_memory_routes.hpp"
#include "frontends/server_extensions.hpp"

namespace surge::http {

namespace http = beast::http;
using asio::as_tuple;
using asio::use_awaitable;
using json_writer = rapidjson::Writer<rapidjson::StringBuffer>;

namespace {

constexpr std::string_view server_version = "0.1.0";

// Collects the one response of a classic infer call and wakes the connection
// coroutine, on its own strand, when the final flag arrives.
class http_response_sink final : public response_sink, public std::enable_shared_from_this<http_response_sink> {
 public:
  explicit http_response_sink(asio::any_io_executor connection)
      : wake_(connection, asio::steady_timer::time_point::max()) {}

  void send(inference_response response) override {
    std::lock_guard lock(mutex_);
    if (!response_) response_ = std::move(response);
  }

  void finish(std::optional<error> failure) override {
    {
      std::lock_guard lock(mutex_);
      failure_ = std::move(failure);
      finished_ = true;
    }
    asio::post(wake_.get_executor(), [self = shared_from_this()] { self->wake_.cancel(); });
  }

  // Runs on the connection strand.
  asio::awaitable<void> wait() {
    if (finished()) co_return;
    co_await wake_.async_wait(as_tuple(use_awaitable));
  }

  bool finished() {
    std::lock_guard lock(mutex_);
    return finished_;
  }
  std::optional<error> take_failure() {
    std::lock_guard lock(mutex_);
    return std::move(failure_);
  }
  std::optional<inference_response> take_response() {
    std::lock_guard lock(mutex_);
    return std::move(response_);
  }

 private:
  asio::steady_timer wake_;
  std::mutex mutex_;
  std::optional<inference_response> response_;  // guarded by mutex_
  std::optional<error> failure_;                // guarded by mutex_
  bool finished_{false};                        // guarded by mutex_
};

std::vector<std::string_view> split_path(std::string_view target) {
  if (auto q = target.find('?'); q != std::string_view::npos) target = target.substr(0, q);
  std::vector<std::string_view> parts;
  while (!target.empty()) {
    if (target.front() == '/') {
      target.remove_prefix(1);
      continue;
    }
    const auto slash = target.find('/');
    parts.push_back(target.substr(0, slash));
    if (slash == std::string_view::npos) break;
    target.remove_prefix(slash);
  }
  return parts;
}

std::optional<std::int64_t> parse_version(std::string_view text) {
  std::int64_t value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc{} || end != text.data() + text.size() || value < 1) return std::nullopt;
  return value;
}

void write_string(json_writer& w, std::string_view s) { w.String(s.data(), static_cast<rapidjson::SizeType>(s.size())); }

template <typename Spec>
void write_tensor_metadata(json_writer& w, const Spec& spec, bool batching) {
  w.StartObject();
  w.Key("name");
  write_string(w, spec.name());
  w.Key("datatype");
  write_string(w, kserve_name(to_data_type(spec.data_type())));
  w.Key("shape");
  w.StartArray();
  if (batching) w.Int64(-1);
  for (auto d : spec.dims()) w.Int64(d);
  w.EndArray();
  w.EndObject();
}

std::string model_metadata_json(const registered_model& state) {
  rapidjson::StringBuffer buffer;
  json_writer w(buffer);
  const auto& config = *state.config;
  w.StartObject();
  w.Key("name");
  write_string(w, state.name);
  w.Key("versions");
  w.StartArray();
  for (const auto& [version, model] : state.versions) write_string(w, std::to_string(version));
  w.EndArray();
  w.Key("platform");
  write_string(w, config.backend());
  const bool batching = config.max_batch_size() > 0;
  w.Key("inputs");
  w.StartArray();
  for (const auto& input : config.input()) write_tensor_metadata(w, input, batching);
  w.EndArray();
  w.Key("outputs");
  w.StartArray();
  for (const auto& output : config.output()) write_tensor_metadata(w, output, batching);
  w.EndArray();
  w.EndObject();
  return buffer.GetString();
}

void write_duration(json_writer& w, const char* key, const duration_statistic& stat) {
  w.Key(key);
  w.StartObject();
  w.Key("count");
  w.Uint64(stat.count.load());
  w.Key("ns");
  w.Uint64(stat.ns.load());
  w.EndObject();
}

void write_model_statistics(json_writer& w, const model_version& model) {
  const auto& s = model.statistics();
  w.StartObject();
  w.Key("name");
  write_string(w, model.name());
  w.Key("version");
  write_string(w, std::to_string(model.version()));
  w.Key("last_inference");
  w.Uint64(s.last_inference_ms.load());
  w.Key("inference_count");
  w.Uint64(s.inference_count.load());
  w.Key("execution_count");
  w.Uint64(s.execution_count.load());
  w.Key("inference_stats");
  w.StartObject();
  write_duration(w, "success", s.success);
  write_duration(w, "fail", s.fail);
  write_duration(w, "queue", s.queue);
  write_duration(w, "compute_input", s.compute_input);
  write_duration(w, "compute_infer", s.compute_infer);
  write_duration(w, "compute_output", s.compute_output);
  write_duration(w, "cache_hit", duration_statistic{});
  write_duration(w, "cache_miss", duration_statistic{});
  w.EndObject();
  w.Key("batch_stats");
  w.StartArray();
  for (std::size_t rows = 1; rows <= s.max_rows; ++rows) {
    const auto& stat = s.batch_compute_infer[rows];
    if (stat.count.load() == 0) continue;
    w.StartObject();
    w.Key("batch_size");
    w.Uint64(rows);
    write_duration(w, "compute_infer", stat);
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
}

}  // namespace

asio::awaitable<handler_result> kserve_handler::handle(request_message& request, connection_stream& stream) {
  const auto parts = split_path(request.target());
  const auto method = request.method();
  const auto version = request.version();
  const auto ok = [&](std::string body) { return json_response(http::status::ok, std::move(body), version, true); };
  const auto fail = [&](http::status status, std::string_view message) {
    return error_response(status, message, version, true);
  };
  const bool is_get = method == http::verb::get || method == http::verb::head;

  if (parts.empty() || parts[0] != "v2") {
    co_return fail(http::status::not_found, "no route for " + client_text(request.target()));
  }

  // /v2
  if (parts.size() == 1) {
    if (!is_get) co_return method_not_allowed(request, "GET, HEAD");
    std::string body = std::string(R"({"name":"surge","version":")") + std::string(server_version) + R"(","extensions":[)";
    for (std::size_t i = 0; i < server_extensions.size(); ++i) {
      if (i > 0) body += ',';
      body += '"' + std::string(server_extensions[i]) + '"';
    }
    co_return ok(body + "]}");
  }
  // /v2/health/{live,ready}
  if (parts[1] == "health" && parts.size() == 3 && (parts[2] == "live" || parts[2] == "ready")) {
    if (!is_get) co_return method_not_allowed(request, "GET, HEAD");
    if (parts[2] == "live") co_return ok(R"({"live":true})");
    if (parts[2] == "ready") {
      if (ready_.load()) co_return ok(R"({"ready":true})");
      co_return json_response(http::status::service_unavailable, R"({"ready":false})", version, true);
    }
  }
  // /v2/systemsharedmemory/..., /v2/cudasharedmemory/...
  if (parts[1] == "systemsharedmemory" || parts[1] == "cudasharedmemory") {
    if (auto answer = serve_shared_memory(parts, request, shared_memory_)) co_return std::move(*answer);
    co_return fail(http::status::not_found, "no route for " + client_text(request.target()));
  }
  // /v2/repository/models/{model}/load, .../unload, .../versions/{v}/unload
  const bool one_version = parts.size() == 7 && parts[4] == "versions" && parts[6] == "unload";
  if (parts[1] == "repository" && parts.size() >= 5 && parts[2] == "models" &&
      ((parts.size() == 5 && (parts[4] == "load" || parts[4] == "unload")) || one_version)) {
    if (method != http::verb::post) co_return method_not_allowed(request, "POST");
    if (!control_) {
      co_return fail(http::status::bad_request,
                     "loading and unloading models at run time needs --model-control-mode explicit (the server runs "
                     "in mode none or poll)");
    }
    std::optional<std::int64_t> unload_version;
    if (one_version) {
      unload_version = parse_version(parts[5]);
      if (!unload_version) {
        co_return fail(http::status::bad_request, "model version '" + client_text(parts[5]) + "' is not a positive integer");
      }
    }
    co_return co_await control_repository(*control_, std::string(parts[3]), one_version ? parts[6] : parts[4],
                                          request, unload_version);
  }
  // /v2/models/{model}/traffic
  if (auto answer = serve_traffic(parts, request, models_)) co_return std::move(*answer);
  // /v2/repository/index (GET, and POST as Triton's clients send it)
  if (parts[1] == "repository" && parts.size() == 3 && parts[2] == "index") {
    rapidjson::StringBuffer buffer;
    json_writer w(buffer);
    w.StartArray();
    for (const auto& [name, state] : models_.snapshot()->models) {
      w.StartObject();
      w.Key("name");
      write_string(w, name);
      if (!state->versions.empty()) {
        w.Key("version");
        write_string(w, std::to_string(state->versions.rbegin()->first));
      }
      w.Key("state");
      write_string(w, state->error.empty() ? "READY" : "UNAVAILABLE");
      if (!state->error.empty() || !state->reload_error.empty()) {
        w.Key("reason");
        write_string(w, state->error.empty() ? "serving the versions loaded before; the last load failed: " +
                                                   state->reload_error
                                             : state->error);
      }
      w.EndObject();
    }
    w.EndArray();
    co_return ok(buffer.GetString());
  }
  // /v2/models/stats
  if (parts[1] == "models" && parts.size() == 3 && parts[2] == "stats") {
    rapidjson::StringBuffer buffer;
    json_writer w(buffer);
    w.StartObject();
    w.Key("model_stats");
    w.StartArray();
    for (const auto& [name, state] : models_.snapshot()->models) {
      for (const auto& [v, model] : state->versions) write_model_statistics(w, *model);
    }
    w.EndArray();
    w.EndObject();
    co_return ok(buffer.GetString());
  }
  if (parts[1] != "models" || parts.size() < 3) {
    co_return fail(http::status::not_found, "no route for " + client_text(request.target()));
  }

  // /v2/models/{m}[/versions/{v}][/ready|/infer|/stats|/config]
  const std::string_view model_name = parts[2];
  std::size_t next = 3;
  std::optional<std::int64_t> requested_version;
  if (parts.size() > 4 && parts[3] == "versions") {
    requested_version = parse_version(parts[4]);
    if (!requested_version) {
      co_return fail(http::status::bad_request,
                     "model version '" + client_text(parts[4]) + "' is not a positive integer");
    }
    next = 5;
  }
  if (parts.size() > next + 1) co_return fail(http::status::not_found, "no route for " + client_text(request.target()));
  const std::string_view action = parts.size() == next ? std::string_view{} : parts[next];

  // One snapshot for every lookup below, so the answers agree; let go of
  // before a request waits for its model (the request holds its version).
  auto snapshot = models_.snapshot();
  const auto* state = snapshot->find(model_name);
  if (!state) co_return fail(http::status::not_found, unknown_model_message(model_name));
  std::string_view routing_key;
  if (auto key = request.find(routing_key_header); key != request.end()) routing_key = key->value();
  auto model = snapshot->find_version(model_name, requested_version, routing_key);
  if (requested_version && !model && state->error.empty()) {
    co_return fail(http::status::not_found, "model '" + client_text(model_name) + "' has no version " +
                                                std::to_string(*requested_version));
  }

  if (action == "ready") {
    if (model && model->ready()) co_return ok(R"({"name":")" + client_text(model_name) + R"(","ready":true})");
    co_return fail(http::status::service_unavailable,
                   "model '" + client_text(model_name) + "' is not ready" +
                       (state->error.empty() ? "" : ": " + state->error));
  }
  if (!state->error.empty() || !model) {
    co_return fail(http::status::service_unavailable,
                   "model '" + client_text(model_name) + "' is not available: " + state->error);
  }
  if (action.empty()) {
    if (!is_get) co_return method_not_allowed(request, "GET, HEAD");
    co_return ok(model_metadata_json(*state));
  }
  if (action == "config") {
    std::string json;
    google::protobuf::util::JsonPrintOptions options;
    options.preserve_proto_field_names = true;
    (void)google::protobuf::util::MessageToJsonString(model->config(), &json, options);
    co_return ok(std::move(json));
  }
  if (action == "stats") {
    rapidjson::StringBuffer buffer;
    json_writer w(buffer);
    w.StartObject();
    w.Key("model_stats");
    w.StartArray();
    if (requested_version) {
      write_model_statistics(w, *model);
    } else {
      for (const auto& [v, m] : state->versions) write_model_statistics(w, *m);
    }
    w.EndArray();
    w.EndObject();
    co_return ok(buffer.GetString());
  }
  if (action == "generate" || action == "generate_stream") {
    snapshot.reset();
    co_return co_await kserve_generate(request, stream, std::move(model), action == "generate_stream");
  }
  if (action == "infer") {
    if (method != http::verb::post) co_return method_not_allowed(request, "POST");
    if (model->config().model_transaction_policy().decoupled()) {
      model->metrics().count(request_outcome::invalid);
      co_return fail(http::status::bad_request,
                     "model '" + client_text(model_name) +
                         "' sends many responses per request: use /generate, /generate_stream, the OpenAI API or "
                         "gRPC ModelStreamInfer");
    }
    snapshot.reset();
    co_return co_await infer(request, stream, std::move(model));
  }
  co_return fail(http::status::not_found, "no route for " + client_text(request.target()));
}

asio::awaitable<std::optional<response_message>> kserve_handler::infer(request_message& request,
                                                                      connection_stream& stream,
                                                                      std::shared_ptr<model_version> model) {
  std::optional<std::size_t> json_length;
  if (auto header = request.find("Inference-Header-Content-Length"); header != request.end()) {
    std::size_t value = 0;
    const auto text = header->value();
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc{} || end != text.data() + text.size()) {
      model->metrics().count(request_outcome::invalid);
      co_return error_response(http::status::bad_request,
                               "Inference-Header-Content-Length '" + client_text(text) + "' is not a byte count",
                               request.version(), true);
    }
    json_length = value;
  }
  auto body = std::make_shared<const std::string>(std::move(request.body()));
  auto decoded = wire::decode_infer_request(std::move(body), json_length);
  if (auto* failure = std::get_if<error>(&decoded)) {
    model->metrics().count(request_outcome::invalid);
    co_return failure_response(*failure, wire::encode_error(failure->message), request.version());
  }
  auto& parsed = std::get<wire::decoded_infer_request>(decoded);
  std::vector<std::pair<std::string, shared_memory_ref>> shared_outputs;
  for (const auto& output : parsed.outputs) {
    if (output.shared_memory) shared_outputs.emplace_back(output.name, *output.shared_memory);
  }
  if (!parsed.shared_memory_inputs.empty() || !shared_outputs.empty()) {
    auto failure = shared_memory_.read_inputs(parsed.inputs, parsed.shared_memory_inputs);
    if (!failure) failure = shared_memory_.check_outputs(shared_outputs);
    if (failure) {
      model->metrics().count(request_outcome::invalid);
      co_return failure_response(*failure, wire::encode_error(failure->message), request.version());
    }
  }

  auto sink = std::make_shared<http_response_sink>(co_await asio::this_coro::executor);
  auto inference = std::make_unique<inference_request>();
  inference->id = parsed.id;
  inference->model = model->name();
  inference->version = model->version();
  inference->inputs = std::move(parsed.inputs);
  inference->requested_outputs.reserve(parsed.outputs.size());
  for (const auto& output : parsed.outputs) {
    inference->requested_outputs.push_back(output.name);
    if (output.classification > 0) inference->classifications.emplace_back(output.name, output.classification);
  }
  inference->priority = parsed.priority.value_or(0);
  inference->timeout = parsed.timeout;
  inference->parameters = std::move(parsed.parameters);
  if (auto trace = request.find("traceparent"); trace != request.end()) inference->traceparent = std::string(trace->value());
  inference->sink = sink;
  auto cancellation = inference->cancellation;
  model->submit(std::move(inference));

  if (!sink->finished()) {
    using namespace asio::experimental::awaitable_operators;
    auto first = co_await (sink->wait() || client_left(stream));
    if (first.index() == 1) {
      if (std::get<1>(first)) {
        // The client is gone: drop its request if it has not started, and
        // never write to the closed socket.
        cancellation->cancel();
        co_return std::nullopt;
      }
      co_await sink->wait();  // more bytes arrived; we can no longer watch
    }
  }

  if (auto failure = sink->take_failure()) {
    co_return failure_response(*failure, wire::encode_error(failure->message), request.version());
  }
  auto response = sink->take_response();
  if (response && !shared_outputs.empty()) {
    if (auto failure = shared_memory_.write_outputs(response->outputs, shared_outputs)) {
      co_return failure_response(*failure, wire::encode_error(failure->message), request.version());
    }
  }
  auto encoded = wire::encode_infer_response(model->name(), model->version(), parsed.id,
                                       response ? response->outputs : std::vector<tensor>{}, parsed.outputs,
                                       parsed.binary_outputs_default);
  response_message message{http::status::ok, request.version()};
  message.set(http::field::server, "surge");
  if (encoded.json_length) {
    message.set(http::field::content_type, "application/octet-stream");
    message.set("Inference-Header-Content-Length", std::to_string(*encoded.json_length));
  } else {
    message.set(http::field::content_type, "application/json");
  }
  message.keep_alive(true);
  message.body() = std::move(encoded.body);
  message.prepare_payload();
  co_return message;
}

}  // namespace surge::http
