// The supervisor's run-time changes: a process launched after start() is
// kept running, a retired one is stopped and not restarted.
#include "pool/supervisor.hpp"

#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <thread>

namespace surge::pool {
namespace {

using namespace std::chrono_literals;

supervised_process sleeper(const std::string& label) {
  spawn_options spawn;
  spawn.argv = {"sleep", "600"};
  return {label, spawn};
}

pid_t pid_of(const supervisor& s, const std::string& label) {
  for (const auto& [name, pid] : s.pids()) {
    if (name == label) return pid;
  }
  return -1;  // not kept
}

// Waits (bounded) for a condition the supervisor's thread brings about.
template <typename Condition>
bool eventually(Condition condition) {
  const auto deadline = std::chrono::steady_clock::now() + 20s;
  while (std::chrono::steady_clock::now() < deadline) {
    if (condition()) return true;
    std::this_thread::sleep_for(5ms);
  }
  return condition();
}

TEST(Supervisor, LaunchesAfterStartAndRetires) {
  supervisor workers;
  workers.add(sleeper("a"));
  workers.start();
  ASSERT_GT(pid_of(workers, "a"), 0);

  workers.launch(sleeper("b"));
  ASSERT_TRUE(eventually([&] { return pid_of(workers, "b") > 0; }));
  workers.launch(sleeper("b"));  // a label already kept is not added again
  std::size_t kept_b = 0;
  for (const auto& [name, pid] : workers.pids()) kept_b += name == "b";
  EXPECT_EQ(kept_b, 1u);

  EXPECT_TRUE(workers.retire("b"));
  ASSERT_TRUE(eventually([&] { return pid_of(workers, "b") == -1; }));
  EXPECT_FALSE(workers.retire("b"));
  EXPECT_GT(pid_of(workers, "a"), 0);
  EXPECT_EQ(workers.restarts(), 0u);
  workers.stop(5s);
}

TEST(Supervisor, ARetiredChildIsNotRestarted) {
  supervisor workers;
  workers.start();
  workers.launch(sleeper("c"));
  ASSERT_TRUE(eventually([&] { return pid_of(workers, "c") > 0; }));
  const auto pid = pid_of(workers, "c");
  ASSERT_TRUE(workers.retire("c"));
  ASSERT_TRUE(eventually([&] { return pid_of(workers, "c") == -1; }));
  EXPECT_NE(::kill(pid, 0), 0);  // exited and reaped
  EXPECT_EQ(workers.restarts(), 0u);
  workers.stop(5s);
}

TEST(Supervisor, AKilledChildIsRestarted) {
  supervisor::options quick;
  quick.first_backoff = 10ms;
  supervisor workers(quick);
  workers.start();
  workers.launch(sleeper("d"));
  ASSERT_TRUE(eventually([&] { return pid_of(workers, "d") > 0; }));
  const auto first = pid_of(workers, "d");
  ::kill(first, SIGKILL);
  ASSERT_TRUE(eventually([&] { return pid_of(workers, "d") > 0 && pid_of(workers, "d") != first; }));
  EXPECT_EQ(workers.restarts(), 1u);
  workers.stop(5s);
}

}  // namespace
}  // namespace surge::pool
