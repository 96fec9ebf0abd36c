#include "router/repository_poller.hpp"

#include <pthread.h>

#include <algorithm>
#include <iostream>
#include <string_view>
#include <vector>

namespace surge {

namespace fs = std::filesystem;

namespace {

// FNV-1a, enough to tell a changed directory from an unchanged one.
void mix(std::uint64_t& hash, std::string_view bytes) {
  for (const unsigned char c : bytes) {
    hash ^= c;
    hash *= 1099511628211ull;
  }
}

void mix(std::uint64_t& hash, std::uint64_t value) {
  mix(hash, std::string_view(reinterpret_cast<const char*>(&value), sizeof value));
}

}  // namespace

repository_poller::repository_poller(model_registry& models, fs::path repository, std::chrono::milliseconds interval)
    : models_(models), repository_(std::move(repository)), interval_(interval) {}

repository_poller::~repository_poller() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

std::uint64_t repository_poller::fingerprint(const fs::path& model_directory) {
  std::vector<std::pair<std::string, std::uint64_t>> files;
  std::error_code ec;
  for (fs::recursive_directory_iterator it(model_directory, fs::directory_options::skip_permission_denied, ec), end;
       !ec && it != end; it.increment(ec)) {
    std::error_code entry_ec;
    const auto& entry = *it;
    std::uint64_t stamp = 0;
    if (entry.is_regular_file(entry_ec)) {
      mix(stamp, static_cast<std::uint64_t>(entry.file_size(entry_ec)));
      mix(stamp, static_cast<std::uint64_t>(entry.last_write_time(entry_ec).time_since_epoch().count()));
    }
    files.emplace_back(fs::relative(entry.path(), model_directory, entry_ec).string(), stamp);
  }
  std::sort(files.begin(), files.end());
  std::uint64_t hash = 14695981039346656037ull;
  for (const auto& [path, stamp] : files) {
    mix(hash, path);
    mix(hash, stamp);
  }
  return hash;
}

std::map<std::string, std::uint64_t> repository_poller::scan_fingerprints() const {
  std::map<std::string, std::uint64_t> found;
  std::error_code ec;
  for (fs::directory_iterator it(repository_, ec), end; !ec && it != end; it.increment(ec)) {
    std::error_code entry_ec;
    const auto name = it->path().filename().string();
    if (name.empty() || name.front() == '.' || !it->is_directory(entry_ec)) continue;
    found[name] = fingerprint(it->path());
  }
  return found;
}

void repository_poller::start() {
  seen_ = scan_fingerprints();
  thread_ = std::thread([this] { run(); });
}

void repository_poller::poll_once() {
  const auto now = scan_fingerprints();
  std::vector<std::string> changed;
  for (const auto& [name, print] : now) {
    const auto before = seen_.find(name);
    if (before == seen_.end() || before->second != print) changed.push_back(name);
  }
  std::vector<std::string> gone;
  for (const auto& [name, print] : seen_) {
    if (now.count(name) == 0) gone.push_back(name);
  }
  seen_ = now;
  for (const auto& name : gone) {
    if (auto failure = models_.unload(name); failure && failure->code != error_code::not_found) {
      std::cerr << "surge: poll: unloading " << name << ": " << failure->message << std::endl;
    } else if (!failure) {
      std::cout << "surge: poll: unloaded " << name << " (its directory is gone)" << std::endl;
    }
  }
  for (const auto& name : changed) {
    std::promise<std::optional<error>> done;
    models_.load_model_async(repository_, name, std::nullopt,
                             [&done](std::optional<error> outcome) { done.set_value(std::move(outcome)); });
    if (auto failure = done.get_future().get()) {
      std::cerr << "surge: poll: " << failure->message << std::endl;
    } else {
      std::cout << "surge: poll: loaded " << name << std::endl;
    }
  }
}

void repository_poller::run() {
  pthread_setname_np(pthread_self(), "repo_poll");
  std::unique_lock lock(mutex_);
  while (!wake_.wait_for(lock, interval_, [this] { return stopping_; })) {
    lock.unlock();
    poll_once();
    lock.lock();
  }
}

}  // namespace surge
