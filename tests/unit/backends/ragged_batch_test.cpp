#include "../../../backends/onnxruntime/ragged_batch.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

namespace surge::onnx {
namespace {

std::span<const std::byte> bytes_of(const std::vector<std::int64_t>& values) {
  return std::as_bytes(std::span<const std::int64_t>(values));
}

std::vector<std::int64_t> values_of(const padded_batch& batch) {
  std::vector<std::int64_t> out(batch.bytes.size() / sizeof(std::int64_t));
  std::memcpy(out.data(), batch.bytes.data(), batch.bytes.size());
  return out;
}

TEST(ragged_batch, pads_each_request_to_the_longest_with_zeros) {
  const std::vector<std::int64_t> short_shape{1, 2}, long_shape{2, 4};
  const std::vector<std::int64_t> short_ids{101, 102}, long_ids{1, 2, 3, 4, 5, 6, 7, 8};
  const std::vector<ragged_part> parts{{short_shape, bytes_of(short_ids)}, {long_shape, bytes_of(long_ids)}};
  ASSERT_TRUE(is_ragged(parts));
  const auto batch = pad_ragged("input_ids", parts, sizeof(std::int64_t));
  EXPECT_EQ(batch.shape, (std::vector<std::int64_t>{3, 4}));
  EXPECT_EQ(batch.rows, (std::vector<std::int64_t>{1, 2}));
  EXPECT_EQ(values_of(batch), (std::vector<std::int64_t>{101, 102, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8}));
}

TEST(ragged_batch, pads_every_dim_after_the_first) {
  const std::vector<std::int64_t> a_shape{1, 1, 2}, b_shape{1, 2, 1};
  const std::vector<std::int64_t> a{1, 2}, b{3, 4};
  const std::vector<ragged_part> parts{{a_shape, bytes_of(a)}, {b_shape, bytes_of(b)}};
  const auto batch = pad_ragged("x", parts, sizeof(std::int64_t));
  EXPECT_EQ(batch.shape, (std::vector<std::int64_t>{2, 2, 2}));
  EXPECT_EQ(values_of(batch), (std::vector<std::int64_t>{1, 2, 0, 0, 3, 0, 4, 0}));
}

TEST(ragged_batch, equal_shapes_are_not_ragged) {
  const std::vector<std::int64_t> shape{1, 3};
  const std::vector<std::int64_t> a{1, 2, 3}, b{4, 5, 6};
  const std::vector<ragged_part> parts{{shape, bytes_of(a)}, {shape, bytes_of(b)}};
  EXPECT_FALSE(is_ragged(parts));
}

TEST(ragged_batch, a_rank_mismatch_or_short_bytes_names_the_input) {
  const std::vector<std::int64_t> rank2{1, 2}, rank3{1, 1, 2};
  const std::vector<std::int64_t> two{1, 2};
  const std::vector<ragged_part> ranks{{rank2, bytes_of(two)}, {rank3, bytes_of(two)}};
  try {
    pad_ragged("attention_mask", ranks, sizeof(std::int64_t));
    FAIL() << "a rank mismatch was padded";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("'attention_mask'"), std::string::npos) << e.what();
  }
  const std::vector<std::int64_t> wide{1, 3};
  const std::vector<ragged_part> short_bytes{{rank2, bytes_of(two)}, {wide, bytes_of(two)}};
  EXPECT_THROW(pad_ragged("input_ids", short_bytes, sizeof(std::int64_t)), std::invalid_argument);
}

}  // namespace
}  // namespace surge::onnx
