#include "frontends/http/connection_limiter.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace surge::http {
namespace {

// Records which connections were evicted, in order.
struct eviction_log {
  std::vector<std::string> evicted;
  connection_limiter::evict_callback on(std::string name) {
    return [this, name = std::move(name)] { evicted.push_back(name); };
  }
};

TEST(connection_limiter, admits_up_to_the_limit_then_evicts_the_longest_idle) {
  connection_limiter limiter({.max_connections = 2, .max_connections_per_client = 0});
  eviction_log log;
  const auto first = limiter.admit("10.0.0.1", log.on("first"));
  const auto second = limiter.admit("10.0.0.2", log.on("second"));
  ASSERT_TRUE(first.id && second.id);
  EXPECT_EQ(limiter.open_connections(), 2u);

  const auto third = limiter.admit("10.0.0.3", log.on("third"));
  ASSERT_TRUE(third.id);
  EXPECT_EQ(third.evicted, 1u);
  EXPECT_EQ(log.evicted, std::vector<std::string>{"first"});
  EXPECT_EQ(limiter.open_connections(), 2u);
  EXPECT_EQ(limiter.evictions(), 1u);
  // The evicted session learns it when its headers arrive, and its release
  // gives back nothing twice.
  EXPECT_FALSE(limiter.mark_busy(*first.id));
  EXPECT_FALSE(limiter.release(*first.id));
  EXPECT_EQ(limiter.open_connections(), 2u);
}

TEST(connection_limiter, a_connection_that_served_a_request_is_younger_than_one_that_never_sent) {
  connection_limiter limiter({.max_connections = 2, .max_connections_per_client = 0});
  eviction_log log;
  const auto keep_alive = limiter.admit("a", log.on("keep_alive"));
  const auto silent = limiter.admit("b", log.on("silent"));
  ASSERT_TRUE(limiter.mark_busy(*keep_alive.id));
  limiter.mark_idle(*keep_alive.id);  // idle again, since after `silent`

  ASSERT_TRUE(limiter.admit("c", log.on("new")).id);
  EXPECT_EQ(log.evicted, std::vector<std::string>{"silent"});
  (void)silent;
}

TEST(connection_limiter, busy_connections_are_never_evicted_and_the_acceptor_waits) {
  connection_limiter limiter({.max_connections = 2, .max_connections_per_client = 0});
  eviction_log log;
  const auto a = limiter.admit("a", log.on("a"));
  const auto b = limiter.admit("b", log.on("b"));
  ASSERT_TRUE(limiter.mark_busy(*a.id));
  EXPECT_TRUE(limiter.can_accept());  // b is idle
  ASSERT_TRUE(limiter.mark_busy(*b.id));
  EXPECT_FALSE(limiter.can_accept());

  const auto refused = limiter.admit("c", log.on("c"));
  EXPECT_FALSE(refused.id);
  EXPECT_FALSE(refused.client_limit);  // the acceptor holds it until room is made
  EXPECT_TRUE(log.evicted.empty());
  EXPECT_EQ(limiter.refusals(), 0u);

  EXPECT_TRUE(limiter.release(*a.id));
  EXPECT_TRUE(limiter.can_accept());
  EXPECT_TRUE(limiter.admit("c", log.on("c")).id);
}

TEST(connection_limiter, a_client_at_its_own_limit_gives_up_its_own_idle_connection) {
  connection_limiter limiter({.max_connections = 10, .max_connections_per_client = 2});
  eviction_log log;
  const auto other = limiter.admit("other", log.on("other"));  // idle longest overall
  const auto one = limiter.admit("flood", log.on("flood-1"));
  const auto two = limiter.admit("flood", log.on("flood-2"));
  ASSERT_TRUE(other.id && one.id && two.id);

  const auto three = limiter.admit("flood", log.on("flood-3"));
  ASSERT_TRUE(three.id);
  EXPECT_EQ(log.evicted, std::vector<std::string>{"flood-1"});
  EXPECT_EQ(limiter.open_connections(), 3u);
  EXPECT_TRUE(limiter.mark_busy(*other.id));  // another client's connection stays
}

TEST(connection_limiter, a_client_whose_connections_are_all_busy_is_refused_while_others_are_admitted) {
  connection_limiter limiter({.max_connections = 10, .max_connections_per_client = 1});
  eviction_log log;
  const auto busy = limiter.admit("flood", log.on("busy"));
  ASSERT_TRUE(limiter.mark_busy(*busy.id));
  const auto refused = limiter.admit("flood", log.on("second"));
  EXPECT_FALSE(refused.id);
  EXPECT_TRUE(refused.client_limit);
  EXPECT_EQ(limiter.refusals(), 1u);
  EXPECT_TRUE(limiter.admit("probe", log.on("probe")).id);
  EXPECT_TRUE(log.evicted.empty());

  EXPECT_TRUE(limiter.release(*busy.id));
  EXPECT_TRUE(limiter.admit("flood", log.on("again")).id);
}

TEST(connection_limiter, releases_forget_clients_and_idle_connections) {
  connection_limiter limiter({.max_connections = 3, .max_connections_per_client = 1});
  eviction_log log;
  const auto a = limiter.admit("a", log.on("a"));
  EXPECT_EQ(limiter.idle_connections(), 1u);
  EXPECT_TRUE(limiter.release(*a.id));
  EXPECT_EQ(limiter.open_connections(), 0u);
  EXPECT_EQ(limiter.idle_connections(), 0u);
  // The client's count went back to zero, so its limit of one admits again.
  EXPECT_TRUE(limiter.admit("a", log.on("a-again")).id);
  EXPECT_TRUE(log.evicted.empty());
}

TEST(connection_limiter, a_flood_of_silent_connections_always_leaves_room_for_a_new_one) {
  connection_limiter limiter({.max_connections = 100, .max_connections_per_client = 0});
  eviction_log log;
  for (int i = 0; i < 1000; ++i) ASSERT_TRUE(limiter.admit("flood", log.on("f")).id);
  EXPECT_EQ(limiter.open_connections(), 100u);
  EXPECT_EQ(log.evicted.size(), 900u);
  const auto probe = limiter.admit("probe", log.on("probe"));
  ASSERT_TRUE(probe.id);
  EXPECT_TRUE(limiter.mark_busy(*probe.id));
  EXPECT_EQ(limiter.open_connections(), 100u);
}

}  // namespace
}  // namespace surge::http
