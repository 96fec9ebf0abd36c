#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/thread_pool.hpp>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "config/model_repository.hpp"
#include "metrics/registry.hpp"
#include "router/model_loader.hpp"
#include "router/model_version.hpp"
#include "router/registry_snapshot.hpp"

namespace surge {

struct model_load_failure {
  std::string model;
  std::string error;
};

// The model router: name and version to a loaded model_version, changed at
// run time by load and unload.
//
// Readers take an immutable registry_snapshot and never a lock: the
// registry keeps the current snapshot and a generation counter; each thread
// caches a weak reference to the snapshot it last saw and the generation it
// saw it at, so a lookup is an atomic load and a reference count increment
// until a writer publishes. Writers (load, unload) are serialised by a
// mutex, build the next snapshot and publish it; the previous one lives on
// while anyone holds it, and a request holds its model_version until it is
// answered.
//
// Unloading a version takes it out of the next snapshot first, then drains
// it (what is queued and running is answered normally; what is still queued
// after drain_timeout is answered not_ready), then, on the loader thread,
// joins its instances, releases its backend and removes its metric series.
// A load that replaces served versions publishes the new ones first and
// retires the old ones the same way, so the model stays available.
class model_registry {
 public:
  struct options {
    // How long an unloaded or replaced version's queued requests may still
    // run before the rest are answered not_ready.
    std::chrono::milliseconds drain_timeout{30'000};
    // Makes, for one load_repository, what fills in what configs leave out
    // before they are validated (a backend's auto-complete); none when empty.
    // What it makes lives until that load is done.
    std::function<config_completion()> make_completion;
  };

  model_registry(boost::asio::any_io_executor io, metrics::registry& metrics);
  model_registry(boost::asio::any_io_executor io, metrics::registry& metrics, options settings);
  // stop_all(), then waits for the loader thread.
  ~model_registry();
  model_registry(const model_registry&) = delete;
  model_registry& operator=(const model_registry&) = delete;

  // Adds a kind of model under a name of its own ("backend", "generation",
  // "remote", ...). Loaders are asked in the order they were added; the
  // first that handles a config loads it. Before the first load.
  void add_loader(std::string kind, std::unique_ptr<model_loader> loader);
  // The kinds added, in the order they are asked.
  std::vector<std::string> loader_kinds() const;

  // What is served now. Lock-free; any thread.
  std::shared_ptr<const registry_snapshot> snapshot() const;
  // nullopt version: the highest loaded version. nullptr when there is none.
  std::shared_ptr<model_version> find_version(std::string_view name, std::optional<std::int64_t> version) const;

  // Loads the models (every version each entry lists) in dependency order:
  // a model loads after the models its loader says it depends on, whether
  // they are in this set or already served. A model whose dependency is
  // missing or failed fails naming it; the models on a dependency cycle
  // fail naming the cycle. Each model is published as soon as it loaded; one
  // that fails is published with its error (the repository index shows it)
  // unless it already served, in which case it keeps serving what it did.
  // Blocks the calling thread, which must not be an I/O thread.
  std::vector<model_load_failure> load(std::vector<model_entry> models);
  // The same on the registry's loader thread; `done` is called there.
  void load_async(std::vector<model_entry> models, std::function<void(std::vector<model_load_failure>)> done);
  std::future<std::vector<model_load_failure>> load_async(std::vector<model_entry> models);

  // Scans a Triton-layout repository and loads every model in it; returns
  // "name: error" for each that failed. Throws std::runtime_error when the
  // repository is missing (the server cannot start without it).
  std::vector<std::string> load_repository(const std::filesystem::path& repository);

  // Loads one model of a repository again (or for the first time), with
  // what it depends on that is not served, on the loader thread: scans the
  // repository there, so a config changed on disk is read afresh.
  // `override`: a config used instead of the model's config.pbtxt (a load
  // request's), completed and validated the same way. `done`, on the loader
  // thread: nullopt once it serves; else why not (not_found for a model the
  // repository lacks, invalid_argument for a config or load failure; a model
  // that served before keeps serving what it served).
  void load_model_async(std::filesystem::path repository, std::string name,
                        std::optional<config::ModelConfig> override, std::function<void(std::optional<error>)> done);

  // Takes a model (every version, or one) out of service: new lookups no
  // longer find it at once; the call returns once it was drained and
  // retired. not_found for an unknown model or version. Blocking; neither on
  // an I/O thread nor on the loader thread.
  std::optional<error> unload(const std::string& name, std::optional<std::int64_t> version = std::nullopt);
  // The same from any thread; `done` is called on the loader thread once
  // the versions are retired.
  void unload_async(std::string name, std::optional<std::int64_t> version,
                    std::function<void(std::optional<error>)> done);
  std::future<std::optional<error>> unload_async(std::string name, std::optional<std::int64_t> version);

  // Shares the requests for `name` that name no version among its versions
  // by weight (`split`), or, with nullptr, sends them to the highest again.
  // Every version with weight must be loaded now, and the weights must not
  // all be 0; the split stays through later loads and unloads (a version
  // not loaded then takes no share). invalid_argument or not_found naming
  // what is wrong. Any thread; lock-free, waits for no load.
  std::optional<error> set_traffic(const std::string& name, std::shared_ptr<const traffic_split> split);

  // Blocks until every version taken out of service so far is retired.
  void wait_retired();

  // Shutdown: refuses further loads and unloads, answers every queue
  // not_ready, lets running batches finish and joins every instance.
  // Blocking; not on an I/O thread.
  void stop_all();

 private:
  model_loader* loader_for(const config::ModelConfig& config) const;
  // The versions of one model, or the error of the first that failed.
  std::shared_ptr<registered_model> load_versions(const model_entry& entry, model_loader& loader, std::string& failure);
  // Under writer_mutex_.
  std::shared_ptr<const registry_snapshot> current() const { return current_; }
  void publish(std::shared_ptr<const registry_snapshot> next);
  std::variant<std::vector<std::shared_ptr<model_version>>, error> take_out(const std::string& name,
                                                                            std::optional<std::int64_t> version);
  // Drains the versions and retires them on the loader thread; `done` (may
  // be empty) is called there after the last.
  void retire(std::vector<std::shared_ptr<model_version>> versions, std::function<void()> done);

  boost::asio::any_io_executor io_;
  metrics::registry& metrics_;
  options options_;
  const std::uint64_t id_;  // tells this registry's entry in a thread's snapshot cache from another's
  std::vector<std::pair<std::string, std::unique_ptr<model_loader>>> loaders_;

  std::mutex writer_mutex_;  // serialises load, unload and stop_all
  bool stopped_{false};      // guarded by writer_mutex_

  // Written under writer_mutex_ and current_mutex_; read under
  // current_mutex_ only on a thread whose cached generation is stale.
  mutable std::mutex current_mutex_;
  std::shared_ptr<const registry_snapshot> current_;
  std::atomic<std::uint64_t> generation_{0};

  std::mutex retire_mutex_;
  std::condition_variable retired_;
  std::set<std::shared_ptr<model_version>> retiring_;  // guarded by retire_mutex_

  // Runs async loads and unloads, and every retirement's blocking part.
  boost::asio::thread_pool loader_{1};
};

}  // namespace surge
