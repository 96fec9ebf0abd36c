#include "pool/child_process.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace surge::pool {

namespace {

int open_pidfd(pid_t pid) { return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)); }

}  // namespace

std::variant<child_process, error> child_process::spawn(const spawn_options& options) {
  if (options.argv.empty()) return make_error(error_code::invalid_argument, "no program to start");
  // Everything the child needs is prepared before fork: after it, only
  // async-signal-safe calls are allowed in a threaded parent.
  std::vector<char*> argv;
  argv.reserve(options.argv.size() + 1);
  for (const auto& a : options.argv) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  int output = -1;
  if (!options.output_file.empty()) {
    output = ::open(options.output_file.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (output < 0) {
      return make_error(error_code::internal,
                        "cannot open " + options.output_file.string() + ": " + std::strerror(errno));
    }
  }
  const pid_t parent = ::getpid();
  // A pipe with CLOEXEC tells the parent whether exec succeeded: it closes
  // on exec, or carries errno when exec failed.
  int report[2];
  if (::pipe2(report, O_CLOEXEC) != 0) {
    if (output >= 0) ::close(output);
    return make_error(error_code::internal, std::string("pipe: ") + std::strerror(errno));
  }

  const pid_t pid = ::fork();
  if (pid < 0) {
    const int saved = errno;
    ::close(report[0]);
    ::close(report[1]);
    if (output >= 0) ::close(output);
    return make_error(error_code::internal, std::string("fork: ") + std::strerror(saved));
  }
  if (pid == 0) {
    if (options.terminate_with_parent) {
      ::prctl(PR_SET_PDEATHSIG, SIGTERM);
      if (::getppid() != parent) ::_exit(127);  // the parent died before prctl
    }
    // Signals the parent blocks or ignores must not carry over.
    sigset_t all;
    ::sigemptyset(&all);
    ::sigprocmask(SIG_SETMASK, &all, nullptr);
    ::signal(SIGPIPE, SIG_DFL);
    ::setpgid(0, 0);  // a terminal's Ctrl-C reaches the parent, which stops the child itself
    if (output >= 0) {
      ::dup2(output, STDOUT_FILENO);
      ::dup2(output, STDERR_FILENO);
    }
    ::execvp(argv[0], argv.data());
    const int saved = errno;
    [[maybe_unused]] auto written = ::write(report[1], &saved, sizeof saved);
    ::_exit(127);
  }
  ::close(report[1]);
  if (output >= 0) ::close(output);
  int exec_errno = 0;
  ssize_t got = 0;
  do {
    got = ::read(report[0], &exec_errno, sizeof exec_errno);
  } while (got < 0 && errno == EINTR);
  ::close(report[0]);
  if (got == static_cast<ssize_t>(sizeof exec_errno)) {
    int status = 0;
    ::waitpid(pid, &status, 0);
    return make_error(error_code::internal, "cannot run " + options.argv[0] + ": " + std::strerror(exec_errno));
  }
  const int pidfd = open_pidfd(pid);
  if (pidfd < 0) {
    const int saved = errno;
    ::kill(pid, SIGKILL);
    int status = 0;
    ::waitpid(pid, &status, 0);
    return make_error(error_code::internal, std::string("pidfd_open: ") + std::strerror(saved));
  }
  return child_process(pid, pidfd);
}

child_process::child_process(child_process&& other) noexcept
    : pid_(other.pid_), pidfd_(other.pidfd_), status_(other.status_) {
  other.pid_ = -1;
  other.pidfd_ = -1;
}

child_process& child_process::operator=(child_process&& other) noexcept {
  if (this != &other) {
    release();
    pid_ = other.pid_;
    pidfd_ = other.pidfd_;
    status_ = other.status_;
    other.pid_ = -1;
    other.pidfd_ = -1;
  }
  return *this;
}

child_process::~child_process() { release(); }

void child_process::release() noexcept {
  if (pid_ > 0 && !status_) {
    ::kill(pid_, SIGKILL);
    int status = 0;
    while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
  }
  if (pidfd_ >= 0) ::close(pidfd_);
  pid_ = -1;
  pidfd_ = -1;
}

void child_process::signal(int sig) const {
  if (pid_ > 0 && !status_) ::kill(pid_, sig);
}

std::optional<int> child_process::try_wait() {
  if (status_) return status_;
  if (pid_ <= 0) return std::nullopt;
  int status = 0;
  pid_t reaped = 0;
  do {
    reaped = ::waitpid(pid_, &status, WNOHANG);
  } while (reaped < 0 && errno == EINTR);
  if (reaped == pid_) status_ = status;
  return status_;
}

std::optional<int> child_process::wait_for(std::chrono::milliseconds limit) {
  if (status_ || pid_ <= 0) return status_;
  pollfd p{pidfd_, POLLIN, 0};
  int ready = 0;
  do {
    ready = ::poll(&p, 1, static_cast<int>(limit.count()));
  } while (ready < 0 && errno == EINTR);
  return try_wait();
}

std::string describe_wait_status(int status) {
  if (WIFEXITED(status)) return "exited " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) {
    const int sig = WTERMSIG(status);
    const char* name = ::strsignal(sig);
    return "killed by signal " + std::to_string(sig) + (name ? " (" + std::string(name) + ")" : "");
  }
  return "ended with status " + std::to_string(status);
}

}  // namespace surge::pool
