#include "pool/supervisor.hpp"

#include <poll.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <iostream>

namespace surge::pool {

namespace {

using steady = std::chrono::steady_clock;

}  // namespace

supervisor::supervisor() : supervisor(options{}) {}

supervisor::supervisor(options opts) : options_(opts), wake_fd_(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {}

supervisor::~supervisor() {
  stop(std::chrono::seconds(5));
  if (wake_fd_ >= 0) ::close(wake_fd_);
}

void supervisor::add(supervised_process process, std::optional<child_process> running) {
  std::lock_guard lock(mutex_);
  slot s;
  s.process = std::move(process);
  s.backoff = options_.first_backoff;
  if (running) {
    s.child = std::move(running);
    s.started = steady::now();
  }
  slots_.push_back(std::move(s));
}

void supervisor::start() {
  {
    std::lock_guard lock(mutex_);
    for (auto& s : slots_) {
      if (!s.child) spawn(s);
    }
  }
  thread_ = std::thread([this] { run(); });
}

void supervisor::launch(supervised_process process) {
  {
    std::lock_guard lock(mutex_);
    if (stopping_) return;
    for (const auto& s : slots_) {
      if (s.process.label == process.label) return;
    }
    slot s;
    s.process = std::move(process);
    s.backoff = options_.first_backoff;
    s.restart_at = steady::now();  // the thread spawns it now
    slots_.push_back(std::move(s));
  }
  wake();
}

bool supervisor::retire(const std::string& label) {
  {
    std::lock_guard lock(mutex_);
    auto it = std::find_if(slots_.begin(), slots_.end(),
                           [&](const slot& s) { return s.process.label == label && !s.retiring; });
    if (it == slots_.end()) return false;
    it->retiring = true;
    it->restart_at.reset();
    if (it->child && it->child->running()) it->child->signal(SIGTERM);
  }
  wake();
  return true;
}

void supervisor::wake() {
  const std::uint64_t one = 1;
  [[maybe_unused]] auto written = ::write(wake_fd_, &one, sizeof one);
}

void supervisor::spawn(slot& s) {
  auto spawned = child_process::spawn(s.process.spawn);
  if (auto* failure = std::get_if<error>(&spawned)) {
    std::cerr << "surge: cannot start " << s.process.label << ": " << failure->message << "; retrying in "
              << s.backoff.count() << " ms" << std::endl;
    s.restart_at = steady::now() + s.backoff;
    s.backoff = std::min(s.backoff * 2, options_.max_backoff);
    return;
  }
  s.child = std::get<child_process>(std::move(spawned));
  s.started = steady::now();
  s.restart_at.reset();
}

void supervisor::run() {
  std::vector<pollfd> fds;
  std::vector<std::size_t> slot_of;
  for (;;) {
    int timeout_ms = -1;
    fds.clear();
    slot_of.clear();
    fds.push_back({wake_fd_, POLLIN, 0});
    {
      std::lock_guard lock(mutex_);
      if (stopping_) return;
      const auto now = steady::now();
      for (std::size_t i = 0; i < slots_.size(); ++i) {
        auto& s = slots_[i];
        if (s.child && s.child->running()) {
          fds.push_back({s.child->exit_fd(), POLLIN, 0});
          slot_of.push_back(i);
        } else if (s.restart_at) {
          const auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(*s.restart_at - now).count();
          const int ms = static_cast<int>(std::max<std::int64_t>(wait, 0));
          timeout_ms = timeout_ms < 0 ? ms : std::min(timeout_ms, ms);
        }
      }
    }
    int ready = ::poll(fds.data(), fds.size(), timeout_ms);
    if (ready < 0 && errno != EINTR) {
      std::cerr << "surge: supervisor: poll failed: " << std::strerror(errno) << std::endl;
      return;
    }
    if (fds[0].revents & POLLIN) {
      std::uint64_t count = 0;
      [[maybe_unused]] auto drained = ::read(wake_fd_, &count, sizeof count);
    }
    std::lock_guard lock(mutex_);
    if (stopping_) return;
    const auto now = steady::now();
    for (std::size_t f = 1; f < fds.size(); ++f) {
      if (!(fds[f].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      auto& s = slots_[slot_of[f - 1]];
      const auto status = s.child->try_wait();
      if (!status) continue;
      if (s.retiring) {
        std::cerr << "surge: " << s.process.label << " (pid " << s.child->pid() << ") retired, "
                  << describe_wait_status(*status) << std::endl;
        s.child.reset();
        continue;
      }
      if (now - s.started >= options_.healthy_after) s.backoff = options_.first_backoff;
      std::cerr << "surge: " << s.process.label << " (pid " << s.child->pid() << ") " << describe_wait_status(*status)
                << "; restarting in " << s.backoff.count() << " ms" << std::endl;
      s.child.reset();
      s.restart_at = now + s.backoff;
      s.backoff = std::min(s.backoff * 2, options_.max_backoff);
    }
    // Retired children that have exited (or never ran) leave; only this
    // thread erases, so the indexes above stay valid between its polls.
    std::erase_if(slots_, [](const slot& s) { return s.retiring && !(s.child && s.child->running()); });
    for (auto& s : slots_) {
      if (!s.child && s.restart_at && *s.restart_at <= now) {
        const bool first = s.started == steady::time_point{};
        spawn(s);
        if (s.child && !first) ++restarts_;
      }
    }
  }
}

void supervisor::stop(std::chrono::milliseconds limit) {
  {
    std::lock_guard lock(mutex_);
    if (stopping_ && !thread_.joinable()) return;
    stopping_ = true;
  }
  wake();
  if (thread_.joinable()) thread_.join();

  std::lock_guard lock(mutex_);
  for (auto& s : slots_) {
    if (s.child) s.child->signal(SIGTERM);
  }
  const auto deadline = steady::now() + limit;
  for (auto& s : slots_) {
    if (!s.child) continue;
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - steady::now());
    auto status = s.child->wait_for(std::max(left, std::chrono::milliseconds(0)));
    if (!status) {
      std::cerr << "surge: " << s.process.label << " did not stop within " << limit.count() << " ms; killing it"
                << std::endl;
      s.child->signal(SIGKILL);
      s.child->wait_for(std::chrono::seconds(5));
    }
    s.child.reset();
  }
}

std::vector<std::pair<std::string, pid_t>> supervisor::pids() const {
  std::lock_guard lock(mutex_);
  std::vector<std::pair<std::string, pid_t>> out;
  for (const auto& s : slots_) out.emplace_back(s.process.label, s.child && s.child->running() ? s.child->pid() : 0);
  return out;
}

std::size_t supervisor::restarts() const {
  std::lock_guard lock(mutex_);
  return restarts_;
}

}  // namespace surge::pool
