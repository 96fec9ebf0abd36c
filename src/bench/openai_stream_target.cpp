#include "bench/openai_stream_target.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <algorithm>
#include <fstream>
#include <rapidjson/document.h>
#include <sstream>

#include "bench/openai_stream.hpp"

namespace surge::bench {

namespace asio = boost::asio;
using asio::as_tuple;
using asio::use_awaitable;

namespace {

// OpenAI's {"error": {"message": ...}}, KServe's {"error": "..."}, or the start of whatever else came.
std::string server_message(const http_answer& answer) {
  rapidjson::Document document;
  document.Parse(answer.body.data(), answer.body.size());
  if (!document.HasParseError() && document.IsObject()) {
    const auto it = document.FindMember("error");
    if (it != document.MemberEnd()) {
      if (it->value.IsString()) return it->value.GetString();
      if (it->value.IsObject()) {
        const auto message = it->value.FindMember("message");
        if (message != it->value.MemberEnd() && message->value.IsString()) return message->value.GetString();
      }
    }
  }
  constexpr std::size_t shown = 200;
  return answer.body.size() > shown ? answer.body.substr(0, shown) + "..." : answer.body;
}

std::string failure_text(const http_answer& answer) {
  return std::string(failure_name(answer.failure)) + (answer.detail.empty() ? "" : ": " + answer.detail);
}

// The model ids of a GET /v1/models answer; nullopt when it is not one.
std::optional<std::vector<std::string>> model_ids(const std::string& body) {
  rapidjson::Document document;
  document.Parse(body.data(), body.size());
  if (document.HasParseError() || !document.IsObject()) return std::nullopt;
  const auto data = document.FindMember("data");
  if (data == document.MemberEnd() || !data->value.IsArray()) return std::nullopt;
  std::vector<std::string> ids;
  for (const auto& entry : data->value.GetArray()) {
    if (!entry.IsObject()) continue;
    const auto id = entry.FindMember("id");
    if (id != entry.MemberEnd() && id->value.IsString()) ids.emplace_back(id->value.GetString());
  }
  return ids;
}

struct streamed_exchange {
  http_answer answer;
  request_outcome outcome;
  std::optional<std::string> problem;  // of a 200 stream: the server's error event or what was malformed
};

// Sends one request and follows its stream to the end.
asio::awaitable<streamed_exchange> stream_one(http_connection& connection, const std::string& request) {
  streamed_exchange result;
  openai_stream_reader reader;
  // Named, not a temporary inside the co_await expression (GCC 12 mishandles those).
  const http_connection::body_callback on_body = [&reader](std::string_view piece) {
    reader.on_body(piece, bench_clock::now());
  };
  result.answer = co_await connection.exchange_streaming(request, on_body);
  result.outcome.failure = result.answer.failure;
  result.outcome.status = result.answer.status;
  // A success needs the stream to end cleanly too: a 200 whose stream breaks
  // off or carries an error event gets a failure below.
  result.outcome.ok = result.answer.status == 200;
  if (result.answer.failure != failure_kind::none || result.answer.status != 200) co_return result;
  if (reader.error()) {
    result.outcome.failure = failure_kind::stream_error;
    result.problem = "the server sent an error event: " + *reader.error();
  } else if (auto problem = reader.problem()) {
    result.outcome.failure = failure_kind::invalid_response;
    result.problem = std::move(problem);
  }
  result.outcome.stream = reader.observation();
  co_return result;
}

class openai_stream_driver final : public request_driver {
 public:
  openai_stream_driver(asio::any_io_executor executor, std::shared_ptr<const endpoint_list> endpoints,
                       http_limits limits, std::shared_ptr<const openai_request_settings> settings,
                       std::string host_header, std::string path, std::uint64_t seed)
      : connection_(std::move(executor), std::move(endpoints), limits),
        settings_(std::move(settings)),
        host_header_(std::move(host_header)),
        path_(std::move(path)),
        picker_(*settings_, seed) {}

  asio::awaitable<request_outcome> send_one() override {
    const auto choice = picker_.next();
    // Built per request (a few hundred bytes): prompts and lengths vary.
    const auto request =
        serialize_http_request("POST", host_header_, path_,
                               openai_request_body(*settings_, choice.prompt_index, choice.max_tokens),
                               "application/json", std::nullopt);
    auto result = co_await stream_one(connection_, request);
    co_return std::move(result.outcome);
  }

  void close() override { connection_.close(); }

 private:
  http_connection connection_;
  std::shared_ptr<const openai_request_settings> settings_;
  std::string host_header_;
  std::string path_;
  openai_request_picker picker_;
};

}  // namespace

openai_stream_target::openai_stream_target(asio::any_io_executor executor, const bench_options& options)
    : executor_(std::move(executor)), options_(options) {
  limits_.timeout = options.timeout;
  host_header_ = host_header(options.address.host, options.address.port);
}

asio::awaitable<std::optional<std::string>> openai_stream_target::prepare() {
  auto settings = std::make_shared<openai_request_settings>();
  settings->model = options_.model;
  settings->chat = options_.chat;
  settings->max_tokens = options_.max_tokens;
  settings->max_tokens_distribution = options_.max_tokens_distribution;
  settings->ignore_eos = options_.ignore_eos;
  settings->temperature = options_.temperature;
  if (!options_.prompt_file.empty()) {
    // Read before any load runs, so blocking here delays nothing measured.
    std::ifstream file(options_.prompt_file, std::ios::binary);
    if (!file) co_return "cannot read --prompt-file " + options_.prompt_file;
    std::ostringstream contents;
    contents << file.rdbuf();
    auto prompts = prompts_from_text(contents.str());
    if (auto* problem = std::get_if<std::string>(&prompts)) {
      co_return "--prompt-file " + options_.prompt_file + " " + *problem;
    }
    settings->prompts = std::move(std::get<std::vector<std::string>>(prompts));
  } else {
    settings->prompts = {options_.prompt};
  }
  settings_ = settings;

  const auto& address = options_.address;
  asio::ip::tcp::resolver resolver(executor_);
  auto [resolve_ec, results] = co_await resolver.async_resolve(address.host, address.port, as_tuple(use_awaitable));
  if (resolve_ec) co_return "cannot resolve '" + address.host + "': " + resolve_ec.message();
  auto endpoints = std::make_shared<endpoint_list>();
  for (const auto& entry : results) endpoints->push_back(entry.endpoint());
  endpoints_ = std::move(endpoints);

  // The model must be one the server lists for text generation.
  http_connection connection(executor_, endpoints_, limits_);
  const auto models_path = address.base_path + "/v1/models";
  const auto models_request = serialize_http_request("GET", host_header_, models_path, {}, {}, std::nullopt);
  const auto models = co_await connection.exchange(models_request);
  if (models.failure == failure_kind::connect_failed || models.failure == failure_kind::timeout) {
    co_return "cannot reach the server at " + options_.url + " (" + failure_text(models) + ")";
  }
  if (models.failure != failure_kind::none) co_return "GET " + models_path + " failed: " + failure_text(models);
  if (models.status != 200) {
    co_return "GET " + models_path + " answered " + std::to_string(models.status) + ": " + server_message(models) +
        " (is this an OpenAI-compatible server?)";
  }
  const auto ids = model_ids(models.body);
  if (!ids) co_return "GET " + models_path + " did not answer an OpenAI model list: " + server_message(models);
  if (std::find(ids->begin(), ids->end(), options_.model) == ids->end()) {
    std::string listed;
    for (const auto& id : *ids) listed += (listed.empty() ? "" : ", ") + id;
    co_return "the server at " + options_.url + " has no text-generation model '" + options_.model + "' (it lists " +
        (listed.empty() ? std::string("none") : listed) + ")";
  }

  // One request end to end, checked in full, with the shortest length asked
  // for: a request the server refuses would otherwise make a whole run of errors.
  const auto path = address.base_path + std::string(openai_path(options_.chat));
  const auto probe_request =
      serialize_http_request("POST", host_header_, path, openai_request_body(*settings_, 0, options_.max_tokens.min),
                             "application/json", std::nullopt);
  const auto probe = co_await stream_one(connection, probe_request);
  connection.close();
  if (probe.answer.failure != failure_kind::none) {
    co_return "the first streamed request failed: " + failure_text(probe.answer);
  }
  if (probe.answer.status != 200) {
    co_return "the server answered the first streamed request with " + std::to_string(probe.answer.status) + ": " +
        server_message(probe.answer);
  }
  if (probe.problem) co_return "the first streamed request: " + *probe.problem;

  generation_summary generation;
  generation.endpoint = std::string(openai_path(options_.chat));
  generation.prompts = settings_->prompts.size();
  generation.prompt_bytes_min = generation.prompt_bytes_max = settings_->prompts.front().size();
  for (const auto& prompt : settings_->prompts) {
    generation.prompt_bytes_min = std::min(generation.prompt_bytes_min, prompt.size());
    generation.prompt_bytes_max = std::max(generation.prompt_bytes_max, prompt.size());
  }
  generation.max_tokens_min = options_.max_tokens.min;
  generation.max_tokens_max = options_.max_tokens.max;
  generation.max_tokens_distribution = std::string(length_distribution_name(options_.max_tokens_distribution));
  generation.ignore_eos = options_.ignore_eos;
  generation.temperature = options_.temperature;
  generation.usage_reported = probe.outcome.stream && probe.outcome.stream->tokens_from_usage;

  summary_.protocol = "openai";
  summary_.url = options_.url;
  summary_.model = options_.model;
  summary_.version = options_.version;
  summary_.encoding = "sse";
  summary_.request_bytes = probe_request.size() - probe_request.find("\r\n\r\n") - 4;
  summary_.rows_per_request = 1;
  summary_.generation = std::move(generation);
  co_return std::nullopt;
}

std::unique_ptr<request_driver> openai_stream_target::make_driver(asio::any_io_executor executor) {
  const std::uint64_t index = drivers_made_.fetch_add(1);
  // Distinct, well-mixed seeds per connection from --seed (splitmix64's constant).
  const std::uint64_t seed = options_.seed + (index + 1) * 0x9E3779B97F4A7C15ull;
  return std::make_unique<openai_stream_driver>(std::move(executor), endpoints_, limits_, settings_, host_header_,
                                                options_.address.base_path + std::string(openai_path(options_.chat)),
                                                seed);
}

}  // namespace surge::bench
