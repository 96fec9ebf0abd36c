#pragma once

// What the registry tests share: an I/O pool, model entries written in
// config.pbtxt text, and a model kind of the tests' own (backend
// "test_kind") whose dependencies and batches the test controls.
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "config/model_config.hpp"
#include "instance/in_process_instance.hpp"
#include "router/loaders/generation_loader.hpp"
#include "router/loaders/tensor_loader.hpp"
#include "router/model_registry.hpp"
#include "scheduler/model_scheduler.hpp"
#include "support/temp_dir.hpp"
#include "support/test_support.hpp"

namespace surge {

// Readable failures in test output.
inline void PrintTo(const model_load_failure& failure, std::ostream* out) {
  *out << failure.model << ": " << failure.error;
}

}  // namespace surge

namespace surge::testing {

constexpr auto wait_limit = std::chrono::seconds(20);

// Waits for a condition another thread makes true (a gauge, a snapshot),
// re-checking it every millisecond; false after wait_limit.
inline bool eventually(const std::function<bool()>& condition) {
  const auto until = std::chrono::steady_clock::now() + wait_limit;
  while (!condition()) {
    if (std::chrono::steady_clock::now() > until) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

// Batches of test_kind models wait here while the test holds it closed.
class batch_gate {
 public:
  void close() {
    std::lock_guard lock(mutex_);
    open_ = false;
  }
  void open() {
    {
      std::lock_guard lock(mutex_);
      open_ = true;
    }
    changed_.notify_all();
  }
  // Called by a batch: waits while the gate is closed.
  void pass() {
    std::unique_lock lock(mutex_);
    ++waiting_;
    changed_.notify_all();
    changed_.wait(lock, [this] { return open_; });
    --waiting_;
  }
  bool wait_for_waiting(int count) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, wait_limit, [&] { return waiting_ >= count; });
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  bool open_{true};
  int waiting_{0};
};

// Which test_kind models loaded, in order.
struct load_log {
  std::mutex mutex;
  std::vector<std::string> names;
  void add(const std::string& name) {
    std::lock_guard lock(mutex);
    names.push_back(name);
  }
  std::vector<std::string> get() {
    std::lock_guard lock(mutex);
    return names;
  }
};

// The tests' own model kind: a config with backend "test_kind" depends on
// the models its parameter "depends_on" lists (comma-separated), and its
// one in-process instance answers OUTPUT0 = INPUT0 once `gate` lets it.
class test_kind_loader final : public model_loader {
 public:
  test_kind_loader(std::shared_ptr<batch_gate> gate, std::shared_ptr<load_log> log)
      : gate_(std::move(gate)), log_(std::move(log)) {}

  bool handles(const config::ModelConfig& config) const override { return config.backend() == "test_kind"; }

  std::vector<std::string> dependencies(const config::ModelConfig& config) const override {
    std::vector<std::string> out;
    const auto it = config.parameters().find("depends_on");
    if (it == config.parameters().end()) return out;
    std::stringstream list(it->second.string_value());
    for (std::string name; std::getline(list, name, ',');) out.push_back(name);
    return out;
  }

  std::variant<std::shared_ptr<model_version>, error> load(const config::ModelConfig& config,
                                                           const load_context& context) override {
    for (const auto& dep : dependencies(config)) {
      if (!context.loaded->find_version(dep, std::nullopt)) {
        return make_error(error_code::internal, "loaded before its dependency " + dep);
      }
    }
    log_->add(config.name());
    auto loaded = std::make_shared<model_version>(config, context.version, context.metrics);
    std::vector<std::unique_ptr<instance>> instances;
    instances.push_back(std::make_unique<in_process_instance>(
        config.name(),
        [gate = gate_](std::vector<request_ptr>& batch, batch_outcome& outcome) {
          gate->pass();
          outcome.failed = false;
          outcome.answers.clear();
          for (const auto& request : batch) {
            auto out = request->inputs.at(0);
            out.name = "OUTPUT0";
            outcome.answers.emplace_back(inference_response{{std::move(out)}, {}});
          }
        },
        loaded->metrics(), loaded->statistics()));
    auto scheduler = std::make_shared<model_scheduler>(context.io, loaded->options(), std::move(instances),
                                                       loaded->metrics(), loaded->statistics());
    loaded->start(std::move(scheduler), nullptr);
    return loaded;
  }

 private:
  std::shared_ptr<batch_gate> gate_;
  std::shared_ptr<load_log> log_;
};

// A model entry as the repository scan makes it, from config text.
inline model_entry make_entry(const std::filesystem::path& repository, const std::string& name,
                              const std::string& backend, const std::string& extra = "",
                              std::vector<std::int64_t> versions = {1}, int max_batch_size = 8) {
  const std::string text = "name: \"" + name + "\"\nbackend: \"" + backend + "\"\nmax_batch_size: " +
                           std::to_string(max_batch_size) + R"pb(
input [ { name: "INPUT0" data_type: TYPE_FP32 dims: [ 4 ] } ]
output [ { name: "OUTPUT0" data_type: TYPE_FP32 dims: [ 4 ] } ]
dynamic_batching { }
)pb" + extra;
  model_entry entry;
  entry.name = name;
  entry.directory = repository / name;
  auto parsed = parse_model_config(text, name + "/config.pbtxt");
  if (!parsed.config) {
    entry.error = parsed.error;
    return entry;
  }
  auto completed = complete_model_config(std::move(*parsed.config), name, name + "/config.pbtxt");
  if (!completed.config) {
    entry.error = completed.error;
    return entry;
  }
  entry.config = std::move(completed.config);
  entry.versions = std::move(versions);
  return entry;
}

inline std::string depends_on(const std::string& names) {
  return "parameters { key: \"depends_on\" value { string_value: \"" + names + "\" } }\n";
}

// An I/O pool, the metrics, and a registry with the server's in-process
// kinds plus test_kind.
struct registry_fixture {
  explicit registry_fixture(model_registry::options settings = {}, unsigned io_threads = 2)
      : registry(io.get_executor(), metrics, settings) {
    registry.add_loader("test_kind", std::make_unique<test_kind_loader>(gate, log));
    registry.add_loader("generation", std::make_unique<generation_model_loader>(SURGE_BACKEND_DIR));
    registry.add_loader("tensor", std::make_unique<tensor_model_loader>(SURGE_BACKEND_DIR));
    for (unsigned i = 0; i < io_threads; ++i) threads.emplace_back([this] { io.run(); });
  }
  ~registry_fixture() {
    gate->open();
    registry.stop_all();
    guard.reset();
    for (auto& thread : threads) thread.join();
  }

  model_entry entry(const std::string& name, const std::string& backend, const std::string& extra = "",
                    std::vector<std::int64_t> versions = {1}, int max_batch_size = 8) {
    return make_entry(repository.path(), name, backend, extra, std::move(versions), max_batch_size);
  }

  // A one-row request for `model`, answered into the returned sink.
  made_request request(const std::string& model, const std::string& id = "r") {
    auto made = make_request(id, clock::now());
    made.request->model = model;
    return made;
  }

  boost::asio::io_context io;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> guard{io.get_executor()};
  metrics::registry metrics;
  temp_dir repository{"surge_registry"};
  std::shared_ptr<batch_gate> gate = std::make_shared<batch_gate>();
  std::shared_ptr<load_log> log = std::make_shared<load_log>();
  model_registry registry;
  std::vector<std::thread> threads;
};

}  // namespace surge::testing
