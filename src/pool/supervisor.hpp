#pragma once

#include <chrono>
#include <filesystem>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "pool/child_process.hpp"

namespace surge::pool {

struct supervised_process {
  std::string label;  // for log lines: "worker resnet-0", "redis-server"
  spawn_options spawn;
};

// Keeps child processes running: a dedicated thread waits on their pidfds
// (never on an I/O thread, no SIGCHLD handler) and restarts any that exits,
// after a backoff that doubles from 100 ms to 10 s and starts again at
// 100 ms for a child that had run for a minute.
class supervisor {
 public:
  struct options {
    std::chrono::milliseconds first_backoff{100};
    std::chrono::milliseconds max_backoff{10000};
    std::chrono::seconds healthy_after{60};
  };

  supervisor();
  explicit supervisor(options opts);
  ~supervisor();
  supervisor(const supervisor&) = delete;
  supervisor& operator=(const supervisor&) = delete;

  // Before start(). `running`: a child already started (and waited for)
  // by the caller; otherwise start() spawns it.
  void add(supervised_process process, std::optional<child_process> running = std::nullopt);
  void start();
  // After start(): the thread spawns the process and keeps it running like
  // the others. Labels are unique: a label already kept is not added again.
  // Any thread; returns at once.
  void launch(supervised_process process);
  // SIGTERM to the child labelled so (it finishes what it is doing); it is
  // not restarted and leaves pids() once it has exited. False: no such
  // child. Any thread; returns at once.
  bool retire(const std::string& label);
  // SIGTERM to every child, then waits up to `limit` for them to exit and
  // SIGKILLs the rest. The thread stops restarting first.
  void stop(std::chrono::milliseconds limit = std::chrono::seconds(20));

  // The running children's process ids by label (0: not running now).
  std::vector<std::pair<std::string, pid_t>> pids() const;
  std::size_t restarts() const;

 private:
  struct slot {
    supervised_process process;
    std::optional<child_process> child;
    std::chrono::steady_clock::time_point started{};
    std::chrono::milliseconds backoff{0};
    std::optional<std::chrono::steady_clock::time_point> restart_at;
    bool retiring{false};
  };

  void run();
  void spawn(slot& s);
  void wake();

  options options_;
  mutable std::mutex mutex_;
  std::vector<slot> slots_;  // guarded by mutex_ (the thread holds it only between polls)
  std::size_t restarts_{0};  // guarded by mutex_
  int wake_fd_{-1};          // eventfd: stop()
  bool stopping_{false};     // guarded by mutex_
  std::thread thread_;
};

}  // namespace surge::pool
