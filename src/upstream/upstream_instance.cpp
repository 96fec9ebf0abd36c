#include "upstream/upstream_instance.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <future>

#include "config/model_config.hpp"
#include "wire/kserve_request.hpp"
#include "wire/kserve_response.hpp"
#include "instance/batch_assembly.hpp"
#include "upstream/json_rows.hpp"

namespace surge::upstream {

namespace asio = boost::asio;

namespace {

constexpr std::chrono::microseconds default_timeout{30'000'000};
constexpr std::uint32_t default_max_inflight = 4;
constexpr std::size_t quoted_body_bytes = 200;

std::string snippet(const std::string& body) {
  return body.size() <= quoted_body_bytes ? body : body.substr(0, quoted_body_bytes) + "...";
}

bool upstream_busy(unsigned status) { return status == 429 || status == 502 || status == 503 || status == 504; }

}  // namespace

upstream_instance::upstream_instance(asio::any_io_executor io, std::shared_ptr<const upstream_settings> settings,
                                     model_metrics& metrics, model_statistics& statistics)
    : strand_(asio::make_strand(io)),
      settings_(std::move(settings)),
      metrics_(metrics),
      statistics_(statistics),
      exchange_(std::make_shared<http_exchange>(strand_, settings_->url)) {}

void upstream_instance::execute(std::vector<request_ptr> batch, done_callback done) {
  asio::co_spawn(strand_, run(std::move(batch), std::move(done)), asio::detached);
}

void upstream_instance::stop() {
  std::promise<void> stopped;
  asio::post(strand_, [this, &stopped] {
    exchange_->close();
    if (busy_) {
      stopped_ = &stopped;
    } else {
      stopped.set_value();
    }
  });
  stopped.get_future().wait();
}

asio::awaitable<void> upstream_instance::run(std::vector<request_ptr> batch, done_callback done) {
  busy_ = true;
  const auto now = clock::now();
  std::erase_if(batch, [now](request_ptr& request) {
    if (request->cancellation->cancelled()) {
      request->sink->finish(make_error(error_code::cancelled, "request cancelled by the client"));
      return true;
    }
    if (request->deadline && *request->deadline <= now) {
      request->sink->finish(make_error(error_code::deadline_exceeded,
                                       "request timed out in the queue of model '" + request->model + "'"));
      return true;
    }
    return false;
  });
  completion result;
  if (batch.empty()) {
    finish_run(result, std::move(done));
    co_return;
  }
  std::vector<std::int64_t> rows;
  for (const auto& request : batch) {
    rows.push_back(request->batch_rows());
    result.batch_rows += static_cast<std::size_t>(request->batch_rows());
  }
  result.requests = batch.size();
  std::int64_t total_rows = 0;
  for (const auto r : rows) total_rows += r;

  // The batch's earliest deadline bounds the exchange too.
  auto timeout = std::chrono::duration_cast<clock::duration>(settings_->timeout);
  for (const auto& request : batch) {
    if (request->deadline) timeout = std::min(timeout, *request->deadline - now);
  }

  const auto inputs = gather_inputs(batch);
  http_reply reply;
  const auto started = clock::now();
  if (settings_->protocol == config::ModelUpstream::JSON) {
    reply = co_await exchange_->post(encode_json_rows(inputs.front()), "application/json", std::nullopt, timeout);
  } else {
    auto encoded = wire::encode_infer_request({}, inputs, {});
    reply = co_await exchange_->post(std::move(encoded.body), "application/octet-stream", encoded.json_length, timeout);
  }
  result.compute = clock::now() - started;

  std::optional<error> failure;
  std::vector<tensor> outputs;
  const auto where = "upstream " + settings_->url.host_header;
  if (!reply.failure.empty()) {
    const bool expired = reply.timed_out && std::all_of(batch.begin(), batch.end(), [](const request_ptr& r) {
                           return r->deadline && *r->deadline <= clock::now();
                         });
    failure = make_error(expired ? error_code::deadline_exceeded : error_code::not_ready,
                         "model '" + settings_->model + "': " + reply.failure);
  } else if (reply.status != 200) {
    failure = make_error(upstream_busy(reply.status) ? error_code::not_ready : error_code::internal,
                         "model '" + settings_->model + "': " + where + " answered " + std::to_string(reply.status) +
                             ": " + snippet(reply.body));
  } else if (settings_->protocol == config::ModelUpstream::JSON) {
    const auto& [name, type] = settings_->outputs.front();
    auto decoded = decode_json_rows(reply.body, name, type, total_rows);
    if (auto* problem = std::get_if<error>(&decoded)) {
      failure = make_error(error_code::internal, "model '" + settings_->model + "': " + where +
                                                     " sent a malformed answer: " + problem->message);
    } else {
      outputs.push_back(std::get<tensor>(std::move(decoded)));
    }
  } else {
    auto decoded =
        wire::decode_infer_response(std::make_shared<const std::string>(std::move(reply.body)), reply.json_length);
    if (auto* problem = std::get_if<error>(&decoded)) {
      failure = make_error(error_code::internal, "model '" + settings_->model + "': " + where +
                                                     " sent a malformed answer: " + problem->message);
    } else {
      outputs = std::move(std::get<wire::decoded_infer_response>(decoded).outputs);
      for (const auto& [name, type] : settings_->outputs) {
        const bool present =
            std::any_of(outputs.begin(), outputs.end(), [&](const tensor& t) { return t.name == name; });
        if (!present) {
          failure = make_error(error_code::internal, "model '" + settings_->model + "': " + where +
                                                         " answered without output '" + name + "'");
          break;
        }
      }
    }
  }

  std::vector<std::vector<tensor>> per_request;
  if (!failure) {
    auto split = scatter_outputs(outputs, rows);
    if (auto* problem = std::get_if<error>(&split)) {
      failure =
          make_error(error_code::internal, "model '" + settings_->model + "': " + where + ": " + problem->message);
    } else {
      per_request = std::move(std::get<std::vector<std::vector<tensor>>>(split));
    }
  }
  for (std::size_t i = 0; i < batch.size(); ++i) {
    auto& request = *batch[i];
    if (failure) {
      request.sink->finish(failure);
      continue;
    }
    request.sink->send(inference_response{select_outputs(std::move(per_request[i]), request.requested_outputs), {}});
    request.sink->finish(std::nullopt);
  }

  result.failed = failure.has_value();
  metrics_.compute_duration.observe(std::chrono::duration<double>(result.compute).count());
  metrics_.batch_size.observe(static_cast<double>(result.batch_rows));
  if (!result.failed) {
    const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(result.compute);
    statistics_.compute_infer.add(ns, result.requests);
    statistics_.execution_count.fetch_add(1, std::memory_order_relaxed);
    statistics_.inference_count.fetch_add(result.batch_rows, std::memory_order_relaxed);
    if (result.batch_rows <= statistics_.max_rows) statistics_.batch_compute_infer[result.batch_rows].add(ns);
  }
  finish_run(result, std::move(done));
}

void upstream_instance::finish_run(completion result, done_callback done) {
  busy_ = false;
  done(result);
  if (stopped_) {
    std::exchange(stopped_, nullptr)->set_value();
  }
}

std::variant<std::vector<std::unique_ptr<instance>>, error> make_upstream_instances(asio::any_io_executor io,
                                                                                  const config::ModelConfig& config,
                                                                                  model_metrics& metrics,
                                                                                  model_statistics& statistics) {
  const auto& upstream = config.upstream();
  auto url = parse_http_url(upstream.url());
  if (auto* failure = std::get_if<error>(&url)) return *failure;
  auto settings = std::make_shared<upstream_settings>();
  settings->model = config.name();
  settings->url = std::get<http_url>(std::move(url));
  settings->protocol = upstream.protocol();
  if (upstream.timeout_microseconds() > 0) {
    settings->timeout = std::chrono::microseconds(upstream.timeout_microseconds());
  } else {
    settings->timeout = default_timeout;
  }
  for (const auto& output : config.output()) {
    settings->outputs.emplace_back(output.name(), to_data_type(output.data_type()));
  }
  if (settings->protocol == config::ModelUpstream::JSON && (config.input_size() != 1 || config.output_size() != 1)) {
    return make_error(error_code::invalid_argument,
                      "upstream protocol JSON carries one input and one output; this model has " +
                          std::to_string(config.input_size()) + " and " + std::to_string(config.output_size()) +
                          " (use KSERVE_V2)");
  }
  const auto count = upstream.max_inflight() == 0 ? default_max_inflight : upstream.max_inflight();
  std::vector<std::unique_ptr<instance>> instances;
  for (std::uint32_t i = 0; i < count; ++i) {
    instances.push_back(std::make_unique<upstream_instance>(io, settings, metrics, statistics));
  }
  return instances;
}

}  // namespace surge::upstream
