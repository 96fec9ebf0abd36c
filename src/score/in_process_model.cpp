#include "score/in_process_model.hpp"

#include <future>

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
  model_registry::options options;
  options.make_completion = [backend_directory] { return backend_autocompletion(backend_directory); };
  loaded->models_ = std::make_unique<model_registry>(loaded->io_.get_executor(), loaded->metrics_, options);
  auto& models = *loaded->models_;
  models.add_loader("ensemble", std::make_unique<ensemble::ensemble_loader>([&models] { return models.snapshot(); }));
  models.add_loader("tensor", std::make_unique<tensor_model_loader>(backend_directory));

  // The model and what it runs (an ensemble's steps), as the server loads them.
  std::promise<std::optional<error>> done;
  models.load_model_async(repository, model, std::nullopt,
                          [&done](std::optional<error> outcome) { done.set_value(std::move(outcome)); });
  if (auto failure = done.get_future().get()) return std::move(*failure);
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
