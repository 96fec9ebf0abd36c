#include "worker/loaded_model.hpp"

#include <future>

#include "config/model_config.hpp"
#include "model/backend_spec.hpp"
#include "model/request_checks.hpp"

namespace surge::worker {

namespace {

// Collects one request's answer for warm_up.
class warm_up_sink final : public response_sink {
 public:
  void send(inference_response) override {}
  void finish(std::optional<error> failure) override { result_.set_value(std::move(failure)); }
  std::future<std::optional<error>> result() { return result_.get_future(); }

 private:
  std::promise<std::optional<error>> result_;
};

}  // namespace

std::variant<std::unique_ptr<loaded_model>, error> loaded_model::load(const std::filesystem::path& repository,
                                                                      const std::string& name,
                                                                      const std::filesystem::path& backend_directory,
                                                                      metrics::registry& metrics) {
  const auto directory = repository / name;
  std::error_code ec;
  if (!std::filesystem::is_directory(directory, ec)) {
    return make_error(error_code::not_found, "model " + name + ": no directory " + directory.string());
  }
  // Keeps the backend it opened for auto-complete loaded for the versions below.
  const auto completion = backend_config_completion(backend_directory);
  auto loaded_config = load_model_config(directory, completion);
  if (!loaded_config.config) return make_error(error_code::invalid_argument, loaded_config.error);
  auto model = std::unique_ptr<loaded_model>(new loaded_model());
  model->config_ = std::move(*loaded_config.config);
  const auto& config = model->config_;
  if (config.has_upstream()) {
    return make_error(error_code::invalid_argument, "model " + name + " is an upstream API, not a worker model");
  }
  const auto versions = select_versions(config, directory);
  if (versions.empty()) {
    return make_error(error_code::not_found, "model " + name + ": no version directory the version policy selects");
  }

  auto library = backend_library::load(backend_directory, config.backend());
  if (auto* failure = std::get_if<error>(&library)) return make_error(failure->code, "backend: " + failure->message);
  const auto shared_library = std::get<std::shared_ptr<backend_library>>(library);

  for (const auto version : versions) {
    auto backend = backend_model::create(shared_library, backend_spec_from(config, directory, version));
    if (auto* failure = std::get_if<error>(&backend)) {
      return make_error(failure->code, "version " + std::to_string(version) + ": " + failure->message);
    }
    loaded_version loaded;
    loaded.version = version;
    loaded.backend = std::get<std::shared_ptr<backend_model>>(std::move(backend));
    loaded.backend->publish_statistics(metrics);
    loaded.metrics = std::make_unique<model_metrics>(metrics, config.name(), version);
    loaded.statistics =
        std::make_unique<model_statistics>(static_cast<std::size_t>(std::max(1, config.max_batch_size())));
    const auto count = instance_count(config);
    for (std::uint32_t i = 0; i < count; ++i) {
      auto handle = backend_instance_handle::create(loaded.backend, i);
      if (auto* failure = std::get_if<error>(&handle)) {
        for (auto& made : loaded.instances) made->stop();
        return make_error(failure->code, "version " + std::to_string(version) + " instance " + std::to_string(i) +
                                             ": " + failure->message);
      }
      auto shared = std::make_shared<backend_instance_handle>(std::get<backend_instance_handle>(std::move(handle)));
      loaded.instances.push_back(std::make_unique<in_process_instance>(
          config.name() + "_" + std::to_string(i),
          [shared](std::vector<request_ptr>& batch, batch_outcome& outcome) { shared->execute(batch, outcome); },
          *loaded.metrics,
          *loaded.statistics));
    }
    model->versions_.push_back(std::move(loaded));
  }
  return model;
}

loaded_model::~loaded_model() { stop(); }

std::vector<std::int64_t> loaded_model::versions() const {
  std::vector<std::int64_t> out;
  for (const auto& v : versions_) out.push_back(v.version);
  return out;
}

loaded_version* loaded_model::find(std::optional<std::int64_t> version) {
  if (versions_.empty()) return nullptr;
  if (!version) return &versions_.back();
  for (auto& v : versions_) {
    if (v.version == *version) return &v;
  }
  return nullptr;
}

request_ptr zero_request(const config::ModelConfig& config, std::int64_t version) {
  auto request = std::make_unique<inference_request>();
  request->id = "warm-up";
  request->model = config.name();
  request->version = version;
  for (const auto& spec : config.input()) {
    std::vector<std::int64_t> shape;
    if (config.max_batch_size() > 0) shape.push_back(1);
    for (const auto dim : spec.dims()) shape.push_back(dim < 0 ? 1 : dim);
    std::int64_t count = 1;
    for (const auto dim : shape) count *= dim;
    const auto type = to_data_type(spec.data_type());
    // BYTES: every element an empty string, i.e. a zero length prefix.
    const auto bytes = static_cast<std::size_t>(count) * (type == data_type::bytes ? 4 : element_size(type));
    auto input = make_owned_tensor(spec.name(), type, std::move(shape), bytes);
    std::fill_n(mutable_data(input), bytes, std::byte{0});
    request->inputs.push_back(std::move(input));
  }
  apply_reshape(config, *request);
  return request;
}

std::optional<error> loaded_model::warm_up() {
  for (auto& version : versions_) {
    for (std::size_t i = 0; i < version.instances.size(); ++i) {
      auto request = zero_request(config_, version.version);
      auto sink = std::make_shared<warm_up_sink>();
      auto result = sink->result();
      request->sink = sink;
      std::vector<request_ptr> batch;
      batch.push_back(std::move(request));
      std::promise<void> done;
      version.instances[i]->execute(std::move(batch), [&done](instance::completion) { done.set_value(); });
      done.get_future().wait();
      if (auto failure = result.get()) {
        return make_error(failure->code, "warm-up of version " + std::to_string(version.version) + " instance " +
                                             std::to_string(i) + " failed: " + failure->message);
      }
    }
  }
  return std::nullopt;
}

void loaded_model::stop() {
  for (auto& version : versions_) {
    for (auto& instance : version.instances) instance->stop();
  }
}

}  // namespace surge::worker
