#pragma once

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "core/status.hpp"

namespace surge::pool {

struct spawn_options {
  // argv[0] is the program: a path, or a name looked up on PATH.
  std::vector<std::string> argv;
  // Where the child's stdout and stderr go; empty: inherited.
  std::filesystem::path output_file;
  // The child gets SIGTERM when this process dies, so no worker or
  // redis-server outlives a crashed parent.
  bool terminate_with_parent{true};
};

// A child process and a pidfd for it: its exit can be awaited with poll()
// without SIGCHLD handlers or reaping other children by accident.
class child_process {
 public:
  static std::variant<child_process, error> spawn(const spawn_options& options);

  child_process(child_process&& other) noexcept;
  child_process& operator=(child_process&& other) noexcept;
  child_process(const child_process&) = delete;
  child_process& operator=(const child_process&) = delete;
  // Kills (SIGKILL) and reaps a child still running: destroying the handle
  // never leaves a zombie or an orphan behind.
  ~child_process();

  pid_t pid() const { return pid_; }
  // Readable (POLLIN) once the child has exited; -1 after it was reaped.
  int exit_fd() const { return pidfd_; }
  bool running() const { return pid_ > 0 && !status_; }

  void signal(int sig) const;
  // The wait status once the child exited (reaping it); nullopt while it runs.
  std::optional<int> try_wait();
  // Waits at most `limit`; nullopt if it is still running then.
  std::optional<int> wait_for(std::chrono::milliseconds limit);

 private:
  child_process(pid_t pid, int pidfd) : pid_(pid), pidfd_(pidfd) {}
  void release() noexcept;

  pid_t pid_{-1};
  int pidfd_{-1};
  std::optional<int> status_;
};

// "exited 3", "killed by signal 9 (Killed)".
std::string describe_wait_status(int status);

}  // namespace surge::pool
