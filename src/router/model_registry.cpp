#include "router/model_registry.hpp"

#include <boost/asio/post.hpp>
#include <cassert>
#include <map>

#include "core/client_text.hpp"
#include "model/output_labels.hpp"
#include "router/load_order.hpp"
#include "router/model_warmup.hpp"
#include "scheduler/io_thread.hpp"

namespace surge {

namespace asio = boost::asio;

namespace {

std::atomic<std::uint64_t> next_registry_id{1};

// The snapshot a thread last read, by registry and generation. Weak, so a
// thread that stops looking models up keeps no retired version alive, and a
// thread that outlives the registry holds nothing of it.
struct snapshot_cache {
  std::uint64_t registry_id{0};
  std::uint64_t generation{0};
  std::weak_ptr<const registry_snapshot> snapshot;
};
thread_local snapshot_cache cached;

}  // namespace

model_registry::model_registry(asio::any_io_executor io, metrics::registry& metrics)
    : model_registry(std::move(io), metrics, options{}) {}

model_registry::model_registry(asio::any_io_executor io, metrics::registry& metrics, options settings)
    : io_(std::move(io)),
      metrics_(metrics),
      options_(settings),
      id_(next_registry_id.fetch_add(1, std::memory_order_relaxed)),
      current_(std::make_shared<const registry_snapshot>()) {}

model_registry::~model_registry() {
  stop_all();
  loader_.join();
}

void model_registry::add_loader(std::string kind, std::unique_ptr<model_loader> loader) {
  std::lock_guard writer(writer_mutex_);
  loaders_.emplace_back(std::move(kind), std::move(loader));
}

std::vector<std::string> model_registry::loader_kinds() const {
  std::vector<std::string> kinds;
  for (const auto& [kind, loader] : loaders_) kinds.push_back(kind);
  return kinds;
}

std::shared_ptr<const registry_snapshot> model_registry::snapshot() const {
  const auto generation = generation_.load(std::memory_order_acquire);
  if (cached.registry_id == id_ && cached.generation == generation) {
    // Null only when a writer replaced the snapshot and its last holder
    // dropped it since this thread looked: then the slow path below.
    if (auto held = cached.snapshot.lock()) return held;
  }
  std::shared_ptr<const registry_snapshot> now;
  std::uint64_t now_generation = 0;
  {
    std::lock_guard lock(current_mutex_);
    now = current_;
    now_generation = generation_.load(std::memory_order_relaxed);
  }
  cached = {id_, now_generation, now};
  return now;
}

std::shared_ptr<model_version> model_registry::find_version(std::string_view name,
                                                            std::optional<std::int64_t> version) const {
  return snapshot()->find_version(name, version);
}

void model_registry::publish(std::shared_ptr<const registry_snapshot> next) {
  std::shared_ptr<const registry_snapshot> previous;
  {
    std::lock_guard lock(current_mutex_);
    previous = std::move(current_);
    current_ = std::move(next);
    generation_.fetch_add(1, std::memory_order_release);
  }
  // `previous` is freed here, outside the lock, if nobody else holds it.
}

model_loader* model_registry::loader_for(const config::ModelConfig& config) const {
  for (const auto& [kind, loader] : loaders_) {
    if (loader->handles(config)) return loader.get();
  }
  return nullptr;
}

std::shared_ptr<registered_model> model_registry::load_versions(const model_entry& entry, model_loader& loader,
                                                                std::string& failure) {
  auto record = std::make_shared<registered_model>();
  record->name = entry.name;
  record->config = entry.config;
  auto labels = read_output_labels(*entry.config, entry.directory);
  if (auto* problem = std::get_if<error>(&labels)) {
    failure = problem->message;
    return record;
  }
  const auto shared_labels = std::make_shared<const output_labels>(std::get<output_labels>(std::move(labels)));
  for (const auto version : entry.versions) {
    auto made = loader.load(*entry.config, load_context{io_, metrics_, entry.directory, version, current()});
    if (auto* problem = std::get_if<error>(&made)) {
      failure = "version " + std::to_string(version) + ": " + problem->message;
      // Never published: nothing was admitted, so stopping answers nobody.
      for (auto& [number, loaded] : record->versions) loaded->stop();
      record->versions.clear();
      return record;
    }
    auto loaded = std::get<std::shared_ptr<model_version>>(std::move(made));
    loaded->set_output_labels(shared_labels);
    record->versions.emplace(version, loaded);
    // Before it is published: the version takes no traffic until it is warm.
    if (auto problem = warm_up(*loaded, *entry.config, entry.directory)) {
      failure = "version " + std::to_string(version) + ": " + *problem;
      for (auto& [number, made_version] : record->versions) made_version->stop();
      record->versions.clear();
      return record;
    }
  }
  return record;
}

std::vector<model_load_failure> model_registry::load(std::vector<model_entry> models) {
  assert(!on_io_thread(io_) && "model_registry::load blocks: never call it on an I/O thread");
  std::lock_guard writer(writer_mutex_);
  std::vector<model_load_failure> failures;
  if (stopped_) {
    for (const auto& entry : models) failures.push_back({entry.name, "the server is stopping"});
    return failures;
  }

  std::map<std::string, model_entry*> by_name;
  std::map<std::string, model_loader*> loader_of;
  std::map<std::string, std::vector<std::string>> dependencies;
  for (auto& entry : models) {
    by_name[entry.name] = &entry;  // a name given twice: the later entry
    auto& deps = dependencies[entry.name];
    if (!entry.error.empty()) continue;
    auto* loader = loader_for(*entry.config);
    if (!loader) {
      entry.error = "no loader for this kind of model (backend '" + entry.config->backend() + "')";
      continue;
    }
    loader_of[entry.name] = loader;
    deps = loader->dependencies(*entry.config);
  }

  const auto order = order_by_dependencies(dependencies);
  std::map<std::string, std::string> outcome;  // this load's models: name to error, empty when loaded
  for (const auto& name : order.order) {
    auto& entry = *by_name.at(name);
    std::string failure = entry.error;
    if (failure.empty()) {
      if (const auto cycle = order.cycles.find(name); cycle != order.cycles.end()) failure = cycle->second;
    }
    for (const auto& dep : dependencies.at(name)) {
      if (!failure.empty()) break;
      if (const auto it = outcome.find(dep); it != outcome.end()) {
        if (!it->second.empty()) failure = "depends on model '" + dep + "', which failed to load: " + it->second;
      } else if (const auto* served = current()->find(dep); !served) {
        failure = "depends on model '" + dep + "', which is not loaded";
      } else if (!served->servable()) {
        failure = "depends on model '" + dep + "', which failed to load: " + served->error;
      }
    }

    std::shared_ptr<registered_model> record;
    if (failure.empty()) record = load_versions(entry, *loader_of.at(name), failure);
    const auto previous_it = current_->models.find(name);
    const auto previous = previous_it == current_->models.end() ? nullptr : previous_it->second;
    outcome[name] = failure;
    if (!failure.empty()) {
      failures.push_back({name, failure});
      if (previous && previous->servable()) {
        // Keeps serving what it served; the index says why the load failed.
        auto kept = std::make_shared<registered_model>(*previous);
        kept->reload_error = failure;
        auto next = std::make_shared<registry_snapshot>(*current_);
        next->models[name] = std::move(kept);
        publish(std::move(next));
        continue;
      }
      record = std::make_shared<registered_model>();
      record->name = name;
      record->config = entry.config;
      record->error = failure;
    }
    record->traffic = previous && previous->traffic ? previous->traffic : std::make_shared<traffic_slot>();
    auto next = std::make_shared<registry_snapshot>(*current_);
    next->models[name] = std::move(record);
    publish(std::move(next));
    // Availability first: the new versions serve before the old ones drain.
    if (previous) {
      std::vector<std::shared_ptr<model_version>> replaced;
      for (const auto& [number, version] : previous->versions) replaced.push_back(version);
      retire(std::move(replaced), {});
    }
  }
  return failures;
}

void model_registry::load_async(std::vector<model_entry> models,
                                std::function<void(std::vector<model_load_failure>)> done) {
  asio::post(loader_, [this, models = std::move(models), done = std::move(done)]() mutable {
    auto failures = load(std::move(models));
    if (done) done(std::move(failures));
  });
}

std::future<std::vector<model_load_failure>> model_registry::load_async(std::vector<model_entry> models) {
  auto result = std::make_shared<std::promise<std::vector<model_load_failure>>>();
  auto future = result->get_future();
  load_async(std::move(models), [result](std::vector<model_load_failure> failures) {
    result->set_value(std::move(failures));
  });
  return future;
}

void model_registry::load_model_async(std::filesystem::path repository, std::string name,
                                      std::optional<config::ModelConfig> override,
                                      std::function<void(std::optional<error>)> done) {
  asio::post(loader_, [this, repository = std::move(repository), name = std::move(name),
                       override = std::move(override), done = std::move(done)]() mutable {
    const auto completion = options_.make_completion ? options_.make_completion() : config_completion{};
    std::vector<model_entry> scanned;
    try {
      scanned = scan_model_repository(repository, completion);
    } catch (const std::exception& e) {
      return done(make_error(error_code::not_found, e.what()));
    }
    const auto find = [&scanned](const std::string& wanted) -> model_entry* {
      for (auto& entry : scanned) {
        if (entry.name == wanted) return &entry;
      }
      return nullptr;
    };
    auto* entry = find(name);
    if (entry == nullptr) {
      return done(make_error(error_code::not_found, "model '" + name + "' is not in the model repository"));
    }
    if (override) {
      auto completed = complete_model_config(std::move(*override), name, "the load request's config", completion,
                                             entry->directory);
      if (!completed.config) return done(make_error(error_code::invalid_argument, completed.error));
      entry->config = std::move(completed.config);
      entry->error.clear();
      entry->versions = select_versions(*entry->config, entry->directory);
      if (entry->versions.empty()) entry->error = "no version directory the version_policy selects";
    }
    // The model, and what it depends on that is not served yet.
    std::vector<model_entry> selected{*entry};
    std::vector<std::string> pending{name};
    std::set<std::string> seen{name};
    while (!pending.empty()) {
      const auto* next = find(pending.back());
      pending.pop_back();
      const auto* config = next == nullptr || !next->config ? nullptr : &*next->config;
      if (next != nullptr && next->name == name) config = selected.front().config ? &*selected.front().config : nullptr;
      auto* loader = config ? loader_for(*config) : nullptr;
      if (loader == nullptr) continue;
      for (const auto& dependency : loader->dependencies(*config)) {
        if (!seen.insert(dependency).second) continue;
        const auto* served = current()->find(dependency);
        if (served && served->servable()) continue;
        if (const auto* found = find(dependency)) {
          selected.push_back(*found);
          pending.push_back(dependency);
        }
      }
    }
    const auto failures = load(std::move(selected));
    if (failures.empty()) return done(std::nullopt);
    std::string message;
    for (const auto& failure : failures) {
      if (!message.empty()) message += "; ";
      message += "failed to load '" + failure.model + "': " + failure.error;
    }
    done(make_error(error_code::invalid_argument, std::move(message)));
  });
}

std::vector<std::string> model_registry::load_repository(const std::filesystem::path& repository) {
  std::vector<std::string> out;
  // Lives through the loads: the backends it opened stay loaded for them.
  const auto completion = options_.make_completion ? options_.make_completion() : config_completion{};
  for (auto& failure : load(scan_model_repository(repository, completion))) {
    out.push_back(failure.model + ": " + failure.error);
  }
  return out;
}

std::optional<error> model_registry::set_traffic(const std::string& name, std::shared_ptr<const traffic_split> split) {
  const auto served = snapshot();
  const auto* model = served->find(name);
  if (!model) return make_error(error_code::not_found, unknown_model_message(name));
  if (!model->servable() || !model->traffic) {
    return make_error(error_code::invalid_argument, "model '" + name + "' is not available: " + model->error);
  }
  if (split) {
    std::uint64_t total = 0;
    for (const auto& [version, weight] : split->by_version()) {
      if (!model->versions.contains(version)) {
        return make_error(error_code::invalid_argument,
                          "model '" + name + "' has no version " + std::to_string(version) + " loaded");
      }
      total += weight;
    }
    if (total == 0) return make_error(error_code::invalid_argument, "the weights must not all be 0");
    std::size_t shared = 0;
    for (const auto& [version, weight] : split->by_version()) shared += weight > 0 ? 1 : 0;
    if (shared > 1 && model->config && model->config->has_sequence_batching()) {
      // A sequence's state lives in one version: steps drawn anew would
      // land on versions that never saw its start.
      return make_error(error_code::invalid_argument,
                        "model '" + name + "' is stateful (sequence_batching): its traffic can go to one version at "
                        "a time, or clients name the version");
    }
  }
  model->traffic->set(std::move(split));
  return std::nullopt;
}

std::variant<std::vector<std::shared_ptr<model_version>>, error> model_registry::take_out(
    const std::string& name, std::optional<std::int64_t> version) {
  std::lock_guard writer(writer_mutex_);
  if (stopped_) return make_error(error_code::not_ready, "the server is stopping");
  const auto it = current_->models.find(name);
  if (it == current_->models.end()) return make_error(error_code::not_found, unknown_model_message(name));
  const auto& model = *it->second;
  std::vector<std::shared_ptr<model_version>> out;
  auto next = std::make_shared<registry_snapshot>(*current_);
  if (version) {
    const auto found = model.versions.find(*version);
    if (found == model.versions.end()) {
      return make_error(error_code::not_found, "model '" + name + "' has no version " + std::to_string(*version));
    }
    out.push_back(found->second);
    auto rest = std::make_shared<registered_model>(model);
    rest->versions.erase(*version);
    // Its last version gone, the model is gone: lookups say not found.
    if (rest->versions.empty()) next->models.erase(name);
    else next->models[name] = std::move(rest);
  } else {
    for (const auto& [number, loaded] : model.versions) out.push_back(loaded);
    next->models.erase(name);
  }
  publish(std::move(next));
  return out;
}

void model_registry::retire(std::vector<std::shared_ptr<model_version>> versions, std::function<void()> done) {
  if (versions.empty()) {
    if (done) asio::post(loader_, std::move(done));
    return;
  }
  {
    std::lock_guard lock(retire_mutex_);
    retiring_.insert(versions.begin(), versions.end());
  }
  auto remaining = std::make_shared<std::atomic<std::size_t>>(versions.size());
  auto shared_done = std::make_shared<std::function<void()>>(std::move(done));
  const auto deadline = clock::now() + options_.drain_timeout;
  for (auto& version : versions) {
    // Drained on a scheduler thread, maybe an I/O thread: the blocking
    // part goes to the loader thread.
    version->drain(deadline, [this, version, remaining, shared_done] {
      asio::post(loader_, [this, version, remaining, shared_done] {
        version->retire();
        {
          std::lock_guard lock(retire_mutex_);
          retiring_.erase(version);
          retired_.notify_all();
        }
        if (remaining->fetch_sub(1) == 1 && *shared_done) (*shared_done)();
      });
    });
  }
}

void model_registry::unload_async(std::string name, std::optional<std::int64_t> version,
                                  std::function<void(std::optional<error>)> done) {
  asio::post(loader_, [this, name = std::move(name), version, done = std::move(done)]() mutable {
    auto taken = take_out(name, version);
    if (auto* failure = std::get_if<error>(&taken)) {
      if (done) done(std::move(*failure));
      return;
    }
    retire(std::get<std::vector<std::shared_ptr<model_version>>>(std::move(taken)), [done = std::move(done)] {
      if (done) done(std::nullopt);
    });
  });
}

std::future<std::optional<error>> model_registry::unload_async(std::string name,
                                                              std::optional<std::int64_t> version) {
  auto result = std::make_shared<std::promise<std::optional<error>>>();
  auto future = result->get_future();
  unload_async(std::move(name), version, [result](std::optional<error> outcome) { result->set_value(outcome); });
  return future;
}

std::optional<error> model_registry::unload(const std::string& name, std::optional<std::int64_t> version) {
  assert(!on_io_thread(io_) && "model_registry::unload blocks: never call it on an I/O thread");
  assert(!loader_.get_executor().running_in_this_thread() && "unload waits for the loader thread");
  auto taken = take_out(name, version);
  if (auto* failure = std::get_if<error>(&taken)) return std::move(*failure);
  std::promise<void> retired;
  retire(std::get<std::vector<std::shared_ptr<model_version>>>(std::move(taken)), [&retired] { retired.set_value(); });
  retired.get_future().wait();
  return std::nullopt;
}

void model_registry::wait_retired() {
  std::unique_lock lock(retire_mutex_);
  retired_.wait(lock, [this] { return retiring_.empty(); });
}

void model_registry::stop_all() {
  std::shared_ptr<const registry_snapshot> served;
  {
    std::lock_guard writer(writer_mutex_);
    stopped_ = true;
    served = current_;
  }
  for (const auto& [name, model] : served->models) {
    for (const auto& [number, version] : model->versions) version->stop();
  }
  // Versions still draining from an unload or a replacement: answered now too.
  std::vector<std::shared_ptr<model_version>> draining;
  {
    std::lock_guard lock(retire_mutex_);
    draining.assign(retiring_.begin(), retiring_.end());
  }
  for (auto& version : draining) version->stop();
  wait_retired();
}

}  // namespace surge
