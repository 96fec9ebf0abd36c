#include "bench/kserve_http_target.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <fstream>
#include <rapidjson/document.h>
#include <sstream>

#include "bench/kserve_inputs.hpp"

namespace surge::bench {

namespace asio = boost::asio;
using asio::as_tuple;
using asio::use_awaitable;

namespace {

// The {"error": "..."} of a KServe v2 failure, or the start of whatever else came.
std::string server_message(const http_answer& answer) {
  rapidjson::Document document;
  document.Parse(answer.body.data(), answer.body.size());
  if (!document.HasParseError() && document.IsObject()) {
    const auto it = document.FindMember("error");
    if (it != document.MemberEnd() && it->value.IsString()) return it->value.GetString();
  }
  constexpr std::size_t shown = 200;
  return answer.body.size() > shown ? answer.body.substr(0, shown) + "..." : answer.body;
}

std::string failure_text(const http_answer& answer) {
  return std::string(failure_name(answer.failure)) + (answer.detail.empty() ? "" : ": " + answer.detail);
}

class kserve_http_driver final : public request_driver {
 public:
  kserve_http_driver(asio::any_io_executor executor, std::shared_ptr<const endpoint_list> endpoints,
                     http_limits limits, std::shared_ptr<const std::string> request)
      : connection_(std::move(executor), std::move(endpoints), limits), request_(std::move(request)) {}

  asio::awaitable<request_outcome> send_one() override {
    const auto answer = co_await connection_.exchange(*request_);
    request_outcome outcome{answer.failure, answer.status, answer.status == 200};
    // prepare() checked one answer in full; here only that a success carries
    // a body, which a KServe v2 infer response always does.
    if (outcome.failure == failure_kind::none && outcome.status == 200 && answer.body.empty()) {
      outcome.failure = failure_kind::invalid_response;
    }
    co_return outcome;
  }

  void close() override { connection_.close(); }

 private:
  http_connection connection_;
  std::shared_ptr<const std::string> request_;
};

}  // namespace

kserve_http_target::kserve_http_target(asio::any_io_executor executor, const bench_options& options)
    : executor_(std::move(executor)), options_(options) {
  limits_.timeout = options.timeout;
  host_header_ = host_header(options.address.host, options.address.port);
}

std::string kserve_http_target::model_path() const {
  std::string path = options_.address.base_path + "/v2/models/" + options_.model;
  if (!options_.version.empty()) path += "/versions/" + options_.version;
  return path;
}

asio::awaitable<std::optional<std::string>> kserve_http_target::prepare() {
  const auto& address = options_.address;
  asio::ip::tcp::resolver resolver(executor_);
  auto [resolve_ec, results] = co_await resolver.async_resolve(address.host, address.port, as_tuple(use_awaitable));
  if (resolve_ec) co_return "cannot resolve '" + address.host + "': " + resolve_ec.message();
  auto endpoints = std::make_shared<endpoint_list>();
  for (const auto& entry : results) endpoints->push_back(entry.endpoint());
  endpoints_ = std::move(endpoints);

  // The requests are named variables: exchange() holds a view of them
  // across its awaits.
  http_connection connection(executor_, endpoints_, limits_);
  const auto metadata_request = serialize_http_request("GET", host_header_, model_path(), {}, {}, std::nullopt);
  const auto config_request =
      serialize_http_request("GET", host_header_, model_path() + "/config", {}, {}, std::nullopt);

  // The model's inputs, from its metadata.
  const auto metadata_answer = co_await connection.exchange(metadata_request);
  if (metadata_answer.failure == failure_kind::connect_failed || metadata_answer.failure == failure_kind::timeout) {
    co_return "cannot reach the server at " + options_.url + " (" + failure_text(metadata_answer) + ")";
  }
  if (metadata_answer.failure != failure_kind::none) {
    co_return "GET " + model_path() + " failed: " + failure_text(metadata_answer);
  }
  if (metadata_answer.status == 404) {
    co_return "the server at " + options_.url + " has no model '" + options_.model + "'" +
        (options_.version.empty() ? "" : " version " + options_.version) + ": " + server_message(metadata_answer);
  }
  if (metadata_answer.status != 200) {
    co_return "GET " + model_path() + " answered " + std::to_string(metadata_answer.status) + ": " +
        server_message(metadata_answer);
  }
  auto metadata = parse_model_metadata(metadata_answer.body);
  if (auto* problem = std::get_if<std::string>(&metadata)) co_return "model '" + options_.model + "': " + *problem;
  const auto& model = std::get<model_metadata>(metadata);

  // Whether the first dimension is the batch: the config says; without one,
  // a leading -1 is taken to be it.
  std::optional<std::int64_t> max_batch_size;
  const auto config_answer = co_await connection.exchange(config_request);
  if (config_answer.failure == failure_kind::none && config_answer.status == 200) {
    max_batch_size = parse_max_batch_size(config_answer.body);
  }
  const auto& first_shape = model.inputs.front().shape;
  const bool batching = max_batch_size ? *max_batch_size > 0 : (!first_shape.empty() && first_shape.front() == -1);
  connection.close();

  // The body, built once.
  request_body body;
  if (!options_.input_file.empty()) {
    // Read before any load runs, so blocking here delays nothing measured.
    std::ifstream file(options_.input_file, std::ios::binary);
    if (!file) co_return "cannot read --input-file " + options_.input_file;
    std::ostringstream contents;
    contents << file.rdbuf();
    auto from_file = request_from_file(contents.str(), batching, options_.binary);
    if (auto* problem = std::get_if<std::string>(&from_file)) co_return options_.input_file + ": " + *problem;
    body = std::move(std::get<request_body>(from_file));
  } else {
    auto resolved = resolve_shapes(model.inputs, batching, options_.rows, options_.shapes);
    if (auto* problem = std::get_if<std::string>(&resolved)) co_return *problem;
    const auto& inputs = std::get<std::vector<input_spec>>(resolved);
    if (max_batch_size && *max_batch_size > 0 && options_.rows > *max_batch_size && options_.shapes.empty()) {
      co_return "--rows " + std::to_string(options_.rows) + " exceeds the model's max_batch_size " +
          std::to_string(*max_batch_size);
    }
    body = synthesize_request(inputs, batching, {options_.binary, options_.string_length, options_.seed});
  }
  for (const auto& input : body.inputs) {
    summary_.inputs.push_back({input.name, std::string(kserve_name(input.type)), input.shape});
  }
  infer_request_ = std::make_shared<const std::string>(
      serialize_http_request("POST", host_header_, model_path() + "/infer", body.bytes,
                             body.json_length ? "application/octet-stream" : "application/json", body.json_length));

  // One exchange end to end, checked in full: a request the server refuses
  // would otherwise make a whole run of errors.
  const auto probe = co_await connection.exchange(*infer_request_);
  connection.close();
  if (probe.failure != failure_kind::none) co_return "the first infer request failed: " + failure_text(probe);
  if (probe.status != 200) {
    co_return "the server answered the first infer request with " + std::to_string(probe.status) + ": " +
        server_message(probe);
  }
  const auto check = check_infer_response(probe.body, probe.json_length);
  if (check.problem) co_return "the answer to the first infer request is not a KServe v2 response: " + *check.problem;

  summary_.protocol = "kserve-http";  // bench_report and status_name key on it
  summary_.url = options_.url;
  summary_.model = options_.model;
  summary_.version = !check.model_version.empty() ? check.model_version : options_.version;
  summary_.encoding = body.json_length ? "binary" : "json";
  summary_.request_bytes = body.bytes.size();
  summary_.rows_per_request = body.rows;
  co_return std::nullopt;
}

std::unique_ptr<request_driver> kserve_http_target::make_driver(asio::any_io_executor executor) {
  return std::make_unique<kserve_http_driver>(std::move(executor), endpoints_, limits_, infer_request_);
}

}  // namespace surge::bench
