// The Redis connection against a real redis-server: pipelining, errors as
// values, and what happens when the server goes away and comes back.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <thread>

#include "pool/free_port.hpp"
#include "redis/connection.hpp"
#include "support/redis_server.hpp"

namespace surge::redis {
namespace {

namespace asio = boost::asio;
using ::testing::HasSubstr;

class RedisConnection : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!server_.problem().empty()) GTEST_SKIP() << "no redis-server: " << server_.problem();
    io_thread_ = std::thread([this] { io_.run(); });
  }
  void TearDown() override {
    for (auto& c : connections_) c->stop();
    work_.reset();
    if (io_thread_.joinable()) io_thread_.join();
  }

  std::shared_ptr<connection> connect(std::uint16_t port = 0) {
    endpoint where;
    where.port = port ? port : server_.port();
    connection_options options;
    options.connect_timeout = std::chrono::milliseconds(1000);
    auto c = connection::create(io_.get_executor(), where, options);
    c->start();
    connections_.push_back(c);
    return c;
  }

  template <typename T>
  T run(asio::awaitable<T> work) {
    return asio::co_spawn(io_, std::move(work), asio::use_future).get();
  }

  reply exec(const std::shared_ptr<connection>& c, command cmd) { return run(c->exec(std::move(cmd))); }

  testing::redis_server server_;
  asio::io_context io_;
  asio::executor_work_guard<asio::io_context::executor_type> work_ = asio::make_work_guard(io_);
  std::thread io_thread_;
  std::vector<std::shared_ptr<connection>> connections_;
};

TEST_F(RedisConnection, RoundTripsBinaryValues) {
  auto c = connect();
  const std::string value("\0\r\n\xff binary", 12);
  auto set = exec(c, command{"SET", "k", value});
  ASSERT_TRUE(set.is_status()) << set.describe();
  EXPECT_EQ(set.text(), "OK");
  auto get = exec(c, command{"GET", "k"});
  ASSERT_TRUE(get.is_string()) << get.describe();
  EXPECT_EQ(get.text(), value);
  EXPECT_TRUE(exec(c, command{"GET", "missing"}).is_nil());
}

TEST_F(RedisConnection, PipelinesManyCommandsAndMatchesRepliesInOrder) {
  auto c = connect();
  constexpr int count = 2000;
  // Started together, so they share writes; each reply must reach its caller.
  std::vector<std::future<reply>> futures;
  for (int i = 0; i < count; ++i) futures.push_back(c->async_exec(command{"INCR", "counter"}, asio::use_future));
  std::vector<std::int64_t> replies;
  for (auto& f : futures) replies.push_back(f.get().integer());
  ASSERT_EQ(replies.size(), static_cast<std::size_t>(count));
  for (int i = 0; i < count; ++i) EXPECT_EQ(replies[static_cast<std::size_t>(i)], i + 1);
}

TEST_F(RedisConnection, ExecAllReturnsEveryReplyInOrder) {
  auto c = connect();
  std::vector<command> commands;
  commands.push_back(command{"RPUSH", "list", "a", "b"});
  commands.push_back(command{"LRANGE", "list", "0", "-1"});
  commands.push_back(command{"INCR", "list"});  // wrong type: an error value, not a failure of the rest
  commands.push_back(command{"LLEN", "list"});
  auto replies = run(c->exec_all(std::move(commands)));
  ASSERT_EQ(replies.size(), 4u);
  EXPECT_EQ(replies[0].integer(), 2);
  EXPECT_EQ(replies[1].describe(), "[\"a\", \"b\"]");
  ASSERT_TRUE(replies[2].is_error());
  EXPECT_FALSE(replies[2].transport_failure());
  EXPECT_THAT(std::string(replies[2].text()), HasSubstr("WRONGTYPE"));
  EXPECT_EQ(replies[3].integer(), 2);
  EXPECT_TRUE(run(c->exec_all({})).empty());
}

TEST_F(RedisConnection, FailsClearlyWhenNothingListens) {
  auto port = pool::pick_free_port();
  ASSERT_TRUE(std::holds_alternative<std::uint16_t>(port));
  auto c = connect(std::get<std::uint16_t>(port));
  auto r = exec(c, command{"PING"});
  ASSERT_TRUE(r.transport_failure()) << r.describe();
  EXPECT_THAT(std::string(r.text()), HasSubstr("unreachable"));
  EXPECT_FALSE(c->connected());
  EXPECT_THAT(c->last_error(), HasSubstr("unreachable"));
}

TEST_F(RedisConnection, FailsPendingCommandsWhenRedisStopsAndReconnectsWhenItReturns) {
  auto c = connect();
  auto blocking = connect();
  ASSERT_EQ(exec(c, command{"PING"}).text(), "PONG");
  ASSERT_EQ(exec(blocking, command{"PING"}).text(), "PONG");
  const auto first_generation = c->generation();

  // In flight when the server goes: answered with a transport error.
  auto pending = blocking->async_exec(command{"BLPOP", "never", "0"}, asio::use_future);
  server_.get().stop();
  auto lost = pending.get();
  ASSERT_TRUE(lost.transport_failure()) << lost.describe();
  EXPECT_THAT(std::string(lost.text()), HasSubstr("lost"));

  // Sent while it is down: waits for the next attempt, which fails.
  auto down = exec(c, command{"PING"});
  ASSERT_TRUE(down.transport_failure()) << down.describe();

  ASSERT_FALSE(server_.get().restart());
  // The next attempt after the restart succeeds; commands sent meanwhile
  // either failed with a clear error or succeed.
  reply back;
  for (int attempt = 0; attempt < 200; ++attempt) {
    back = exec(c, command{"PING"});
    if (!back.is_error()) break;
    EXPECT_TRUE(back.transport_failure()) << back.describe();
  }
  ASSERT_TRUE(back.is_status()) << back.describe();
  EXPECT_EQ(back.text(), "PONG");
  EXPECT_GT(c->generation(), first_generation);
  EXPECT_TRUE(c->connected());
}

TEST_F(RedisConnection, StopFailsWhatIsInFlight) {
  auto c = connect();
  ASSERT_EQ(exec(c, command{"PING"}).text(), "PONG");
  auto pending = c->async_exec(command{"BLPOP", "never", "0"}, asio::use_future);
  c->stop();
  auto r = pending.get();
  EXPECT_TRUE(r.transport_failure()) << r.describe();
  auto after = exec(c, command{"PING"});
  EXPECT_TRUE(after.transport_failure());
  EXPECT_THAT(std::string(after.text()), HasSubstr("closed"));
}

}  // namespace
}  // namespace surge::redis
