#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <map>
#include <mutex>
#include <string>
#include <thread>

#include "router/model_registry.hpp"

namespace surge {

// --model-control-mode poll: every `interval` the repository is scanned on
// a thread of its own; a model directory that is new or whose files changed
// (any file's path, size or modification time, version directories
// included) is loaded again, one that is gone is unloaded. A load that fails
// leaves a model that served serving (the index says why), and the change
// is not retried until the directory changes again; a later change is
// noticed as any other.
class repository_poller {
 public:
  repository_poller(model_registry& models, std::filesystem::path repository, std::chrono::milliseconds interval);
  // Stops polling and waits for a poll in progress.
  ~repository_poller();
  repository_poller(const repository_poller&) = delete;
  repository_poller& operator=(const repository_poller&) = delete;

  // Reads the repository as it is now, without loading: the first poll
  // acts only on what changes after this. Then starts the thread.
  void start();
  // One poll, on the calling thread (neither an I/O nor the loader thread).
  void poll_once();

  // What a model directory looks like: its files' paths, sizes and times.
  static std::uint64_t fingerprint(const std::filesystem::path& model_directory);

 private:
  std::map<std::string, std::uint64_t> scan_fingerprints() const;
  void run();

  model_registry& models_;
  std::filesystem::path repository_;
  std::chrono::milliseconds interval_;
  std::map<std::string, std::uint64_t> seen_;  // poll thread only, once started
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_{false};
  std::thread thread_;
};

}  // namespace surge
