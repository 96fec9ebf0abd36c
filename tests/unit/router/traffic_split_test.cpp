#include "router/traffic_split.hpp"

#include <gtest/gtest.h>

#include <map>
#include <set>
#include <string>

namespace surge {
namespace {

const auto all_loaded = [](std::int64_t) { return true; };

TEST(TrafficSplit, SharesMatchTheWeightsOverAnyRun) {
  traffic_split split({{2, 10}, {1, 90}});
  for (const int run : {100, 1000, 10000}) {
    std::map<std::int64_t, int> counts;
    for (int i = 0; i < run; ++i) ++counts[*split.pick(all_loaded)];
    EXPECT_NEAR(counts[2], run / 10, 2 + run / 500) << run;
    EXPECT_EQ(counts[1] + counts[2], run);
  }
}

TEST(TrafficSplit, AVersionWithoutWeightOrNotLoadedGetsNothing) {
  traffic_split split({{1, 0}, {2, 50}, {3, 50}});
  const auto without_3 = [](std::int64_t v) { return v != 3; };
  for (int i = 0; i < 200; ++i) {
    EXPECT_EQ(split.pick(without_3), 2);
    EXPECT_NE(split.pick(all_loaded), 1);
  }
  const auto none = [](std::int64_t v) { return v == 1; };
  EXPECT_EQ(split.pick(none), std::nullopt);  // the caller falls back to the highest
}

TEST(TrafficSplit, AKeyAlwaysGetsTheSameVersionAndKeysSpreadByWeight) {
  traffic_split split({{1, 50}, {2, 50}});
  std::map<std::int64_t, int> counts;
  for (int user = 0; user < 2000; ++user) {
    const auto key = "user-" + std::to_string(user);
    const auto first = split.pick(all_loaded, key);
    for (int again = 0; again < 3; ++again) EXPECT_EQ(split.pick(all_loaded, key), first);
    ++counts[*first];
  }
  EXPECT_NEAR(counts[1], 1000, 100);
}

TEST(TrafficSplit, AllWeightOnOneVersionIsThatVersion) {
  traffic_split rollback({{1, 100}, {2, 0}});
  for (int i = 0; i < 100; ++i) EXPECT_EQ(rollback.pick(all_loaded), 1);
  EXPECT_EQ(rollback.pick(all_loaded, "anyone"), 1);
}

TEST(TrafficSplit, PickAtWalksTheLoadedWeightsInVersionOrder) {
  const traffic_split::weights w{{1, 1}, {2, 3}};
  EXPECT_EQ(traffic_split::pick_at(w, all_loaded, 0), 1);
  EXPECT_EQ(traffic_split::pick_at(w, all_loaded, (1ull << 62) - 1), 1);  // just under 1/4
  EXPECT_EQ(traffic_split::pick_at(w, all_loaded, 1ull << 62), 2);
  EXPECT_EQ(traffic_split::pick_at(w, all_loaded, ~0ull), 2);
}

}  // namespace
}  // namespace surge
