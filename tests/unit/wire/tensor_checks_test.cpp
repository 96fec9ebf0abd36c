#include "wire/tensor_checks.hpp"

#include <gtest/gtest.h>

#include "support/framed.hpp"

#include <cstdint>
#include <limits>
#include <span>
#include <string>
#include <vector>

namespace surge::wire {
namespace {

using surge::testing::framed;

TEST(tensor_checks, element_counts) {
  EXPECT_EQ(std::get<std::size_t>(checked_element_count("input 'a'", {2, 3}, data_type::fp32)), 6u);
  EXPECT_EQ(std::get<std::size_t>(checked_element_count("input 'a'", {}, data_type::fp32)), 1u);
  EXPECT_EQ(std::get<std::size_t>(checked_element_count("input 'a'", {4, 0}, data_type::bytes)), 0u);
  const auto overflow =
      checked_element_count("input 'a'", {std::numeric_limits<std::int64_t>::max(), 2}, data_type::uint8);
  EXPECT_EQ(std::get<error>(overflow).message,
            "input 'a': shape [9223372036854775807,2] has too many elements");
}

TEST(tensor_checks, bytes_elements) {
  const auto data = framed({"a", "", "bc"});
  const std::span<const std::byte> view(reinterpret_cast<const std::byte*>(data.data()), data.size());
  EXPECT_EQ(bytes_elements_problem(view, 3, "f", "d"), "");
  EXPECT_EQ(bytes_elements_problem(view, 2, "f", "d"), "d holds 3 elements, the shape needs 2");
  EXPECT_EQ(bytes_elements_problem(view.first(view.size() - 1), 3, "f", "d"),
            "BYTES element 2 has length 2 but only 1 bytes of f remain");
}

}  // namespace
}  // namespace surge::wire
