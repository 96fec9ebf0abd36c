#include "score/in_process_model.hpp"

#include <set>

#include "config/model_repository.hpp"
#include "ensemble/ensemble_loader.hpp"
#include "router/loaders/open_backend.hpp"
#include "router/loaders/tensor_loader.hpp"

namespace surge::score {

namespace {

// Collects the answer of one request.
class collecting_sink final : public response_sink {
 public:
  explicit collecting_sink(std::function<void(in_process_model::answer)> done) : done_(std::move(done)) {}
  void send(inference_response response) override { response_ = std::move(response); }
  void finish(std::optional<error> failure) override {
    auto done = std::move(done_);
    if (failure) done(std::move(*failure));
    else done(std::move(response_));
  }

 private:
  std::function<void(in_process_model::answer)> done_;
  inference_response response_;
};

// The entries to load for `name`: it and, for an ensemble, its steps' models, recursively.
std::variant<std::vector<model_entry>, error> entries_for(const std::vector<model_entry>& repository,
                                                          const std::string& name) {
  std::vector<model_entry> selected;
  std::set<std::string> seen;
  std::vector<std::string> pending{name};
  while (!pending.empty()) {
    const auto next = pending.back();
    pending.pop_back();
    if (!seen.insert(next).second) continue;
    const model_entry* entry = nullptr;
    for (const auto& candidate : repository) {
      if (candidate.name == next) entry = &candidate;
    }
    if (entry == nullptr) {
      return make_error(error_code::not_found,
                        next == name ? "model " + name + " is not in the repository"
                                     : "model " + name + " runs " + next + ", which is not in the repository");
    }
    if (!entry->config) return make_error(error_code::invalid_argument, "model " + next + ": " + entry->error);
    if (entry->config->has_generation()) {
      return make_error(error_code::invalid_argument, "model " + next + " generates text; surge score scores tensors");
    }
    if (entry->config->has_worker_pool() || entry->config->has_upstream()) {
      return make_error(error_code::invalid_argument,
                        "model " + next + " runs outside this process (worker_pool/upstream); score it in-process "
                        "from its own backend config");
    }
    for (const auto& step : entry->config->ensemble_scheduling().step()) pending.push_back(step.model_name());
    selected.push_back(*entry);
  }
  return selected;
}

}  // namespace

in_process_model::in_process_model() : work_(io_.get_executor()) {}

in_process_model::~in_process_model() {
  version_.reset();
  if (models_) models_->stop_all();
  models_.reset();
  work_.reset();
  io_.stop();
  if (io_thread_.joinable()) io_thread_.join();
}

std::variant<std::unique_ptr<in_process_model>, error> in_process_model::load(
    const std::filesystem::path& repository, const std::string& model, std::optional<std::int64_t> version,
    const std::filesystem::path& backend_directory) {
  std::unique_ptr<in_process_model> loaded(new in_process_model());
  loaded->io_thread_ = std::thread([io = &loaded->io_] { io->run(); });
  loaded->models_ = std::make_unique<model_registry>(loaded->io_.get_executor(), loaded->metrics_);
  auto& models = *loaded->models_;
  models.add_loader("ensemble", std::make_unique<ensemble::ensemble_loader>([&models] { return models.snapshot(); }));
  models.add_loader("tensor", std::make_unique<tensor_model_loader>(backend_directory));

  std::vector<model_entry> scanned;
  try {
    scanned = scan_model_repository(repository, backend_autocompletion(backend_directory));
  } catch (const std::exception& e) {
    return make_error(error_code::not_found, e.what());
  }
  auto selected = entries_for(scanned, model);
  if (auto* failure = std::get_if<error>(&selected)) return std::move(*failure);
  for (const auto& failure : models.load(std::get<std::vector<model_entry>>(std::move(selected)))) {
    return make_error(error_code::internal, "model " + failure.model + " did not load: " + failure.error);
  }
  loaded->version_ = models.find_version(model, version);
  if (!loaded->version_) {
    return make_error(error_code::not_found, "model " + model + " has no version " +
                                                 (version ? std::to_string(*version) : std::string("loaded")));
  }
  return loaded;
}

void in_process_model::infer(std::vector<tensor> inputs, std::function<void(answer)> done) {
  auto request = std::make_unique<inference_request>();
  request->id = "score-" + std::to_string(next_id_++);
  request->model = version_->name();
  request->version = version_->version();
  request->inputs = std::move(inputs);
  request->sink = std::make_shared<collecting_sink>(std::move(done));
  version_->submit(std::move(request));
}

}  // namespace surge::score
