#include "router/load_order.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace surge {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::Pair;
using ::testing::UnorderedElementsAre;

TEST(load_order, dependencies_come_first_whatever_the_names_say) {
  const auto ordered = order_by_dependencies({{"a_top", {"m_mid"}}, {"m_mid", {"z_base"}}, {"z_base", {}}});
  EXPECT_THAT(ordered.order, ElementsAre("z_base", "m_mid", "a_top"));
  EXPECT_THAT(ordered.cycles, IsEmpty());
}

TEST(load_order, a_diamond_loads_its_shared_base_once_and_ties_go_by_name) {
  const auto ordered =
      order_by_dependencies({{"top", {"right", "left"}}, {"left", {"base"}}, {"right", {"base"}}, {"base", {}}});
  EXPECT_THAT(ordered.order, ElementsAre("base", "left", "right", "top"));
}

TEST(load_order, dependencies_outside_the_set_are_left_to_the_caller) {
  const auto ordered = order_by_dependencies({{"user", {"served_elsewhere"}}});
  EXPECT_THAT(ordered.order, ElementsAre("user"));
  EXPECT_THAT(ordered.cycles, IsEmpty());
}

TEST(load_order, every_model_on_a_cycle_gets_the_cycle_spelled_out) {
  const auto ordered =
      order_by_dependencies({{"p", {"q"}}, {"q", {"r"}}, {"r", {"p"}}, {"user", {"q"}}, {"self", {"self"}}});
  EXPECT_THAT(ordered.cycles, UnorderedElementsAre(Pair("p", "dependency cycle: p -> q -> r -> p"),
                                                   Pair("q", "dependency cycle: p -> q -> r -> p"),
                                                   Pair("r", "dependency cycle: p -> q -> r -> p"),
                                                   Pair("self", "dependency cycle: self -> self")));
  // Not on the cycle, only behind it: the registry fails it for its dependency.
  EXPECT_EQ(ordered.cycles.count("user"), 0u);
  EXPECT_EQ(ordered.order.size(), 5u);
}

}  // namespace
}  // namespace surge
