// metrics::registry removal: a removed series leaves the rendering, an
// emptied family is not rendered, a series shared by two holders stays
// until both let go, and updates racing with removal and rendering are safe.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <thread>
#include <vector>

#include "metrics/model_metrics.hpp"
#include "metrics/registry.hpp"

namespace surge::metrics {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

TEST(series_removal, a_removed_group_leaves_the_rendering_and_its_empty_families_with_it) {
  registry r;
  r.make_counter("kept_total", "Never removed.", {});
  auto group = std::make_unique<series_group>(r);
  auto& c = group->make_counter("removed_total", "Removed with the group.", {{"model", "a"}});
  auto& g = group->make_gauge("shared_family", "Two series, one removed.", {{"model", "a"}});
  r.make_gauge("shared_family", "Two series, one removed.", {{"model", "b"}}).set(7);
  auto& h = group->make_histogram("removed_seconds", "Removed with the group.", {{"model", "a"}}, {1.0});
  c.increment();
  g.set(3);
  h.observe(0.5);
  const auto before = r.render();
  EXPECT_THAT(before, HasSubstr("removed_total{model=\"a\"} 1"));
  EXPECT_THAT(before, HasSubstr("shared_family{model=\"a\"} 3"));
  EXPECT_THAT(before, HasSubstr("removed_seconds_count{model=\"a\"} 1"));

  group->remove_all();
  const auto after = r.render();
  EXPECT_THAT(after, Not(HasSubstr("removed_total")));  // family gone: no HELP or TYPE either
  EXPECT_THAT(after, Not(HasSubstr("removed_seconds")));
  EXPECT_THAT(after, Not(HasSubstr("model=\"a\"")));
  EXPECT_THAT(after, HasSubstr("shared_family{model=\"b\"} 7"));
  EXPECT_THAT(after, HasSubstr("kept_total 0"));

  // The group still owns its series: updating them after the removal is harmless.
  c.increment();
  g.add(1);
  h.observe(2.0);
  EXPECT_EQ(c.value(), 2u);
  group->remove_all();  // idempotent
  group.reset();
  EXPECT_EQ(r.render(), after);
}

TEST(series_removal, a_series_shared_by_two_groups_stays_until_both_remove_it) {
  registry r;
  series_group first(r);
  series_group second(r);
  auto& a = first.make_counter("requests_total", "Requests.", {{"model", "m"}, {"version", "1"}});
  auto& b = second.make_counter("requests_total", "Requests.", {{"model", "m"}, {"version", "1"}});
  EXPECT_EQ(&a, &b);  // one series: a version reloaded under its number counts on
  a.increment(2);
  first.remove_all();
  EXPECT_THAT(r.render(), HasSubstr("requests_total{model=\"m\",version=\"1\"} 2"));
  second.remove_all();
  EXPECT_THAT(r.render(), Not(HasSubstr("requests_total")));
}

TEST(series_removal, model_metrics_remove_every_series_of_the_version) {
  registry r;
  model_metrics kept(r, "kept", 1);
  {
    model_metrics gone(r, "gone", 1);
    gone.count(request_outcome::success);
    EXPECT_THAT(r.render(), HasSubstr("model=\"gone\""));
    gone.remove();
    EXPECT_THAT(r.render(), Not(HasSubstr("model=\"gone\"")));
    gone.count(request_outcome::failed);  // after removal: still safe
  }
  EXPECT_THAT(r.render(), HasSubstr("surge_requests_total{model=\"kept\",version=\"1\",outcome=\"success\"} 0"));
}

TEST(series_removal, updates_creation_removal_and_rendering_race_safely) {
  registry r;
  std::atomic<bool> done{false};
  std::vector<std::thread> threads;
  // Owners that come and go, updating their series until they remove them.
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int round = 0; round < 200; ++round) {
        series_group group(r);
        const labels own{{"model", "m" + std::to_string(t)}, {"round", std::to_string(round % 3)}};
        auto& c = group.make_counter("churn_total", "Churn.", own);
        auto& h = group.make_histogram("churn_seconds", "Churn.", own, duration_buckets());
        auto& g = group.make_gauge("churn_depth", "Churn.", own);
        std::thread updater([&] {
          for (int i = 0; i < 50; ++i) {
            c.increment();
            h.observe(0.001 * i);
            g.add(1);
          }
        });
        group.remove_all();  // while the updater may still be running
        updater.join();
      }
    });
  }
  std::thread renderer([&] {
    while (!done.load()) {
      const auto text = r.render();
      ASSERT_EQ(text.find("{}"), std::string::npos);
    }
  });
  for (auto& thread : threads) thread.join();
  done.store(true);
  renderer.join();
  EXPECT_THAT(r.render(), Not(HasSubstr("churn")));
}

}  // namespace
}  // namespace surge::metrics
