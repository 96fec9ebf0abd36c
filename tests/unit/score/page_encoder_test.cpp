#include "score/page_encoder.hpp"

#include <gtest/gtest.h>

#include <cstring>

#include "score/output_values.hpp"

namespace surge::score {
namespace {

column_mapping two_column_mapping(data_type type, std::int64_t max_batch) {
  column_mapping mapping;
  mapping.key = "id";
  mapping.source_columns = {"a", "b"};
  mapping.inputs.push_back({"x", type, {2}, {0, 1}});
  mapping.outputs.push_back({"score", "y", data_type::fp32, 2, 1});
  mapping.batched = max_batch > 0;
  mapping.max_batch_size = max_batch;
  return mapping;
}

void add_row(row_page& page, std::optional<std::string_view> key, std::optional<std::string_view> a,
             std::optional<std::string_view> b) {
  page.add_cell(key);
  page.add_cell(a);
  page.add_cell(b);
}

std::vector<float> floats(const tensor& t) {
  std::vector<float> values(static_cast<std::size_t>(t.element_count()));
  std::memcpy(values.data(), t.data.data(), values.size() * sizeof(float));
  return values;
}

TEST(PageEncoder, SplitsIntoRequestsOfTheMaxBatchAndRejectsBadRowsOnly) {
  row_page page(2);
  add_row(page, "1", "1.5", "2");
  add_row(page, "2", std::nullopt, "2");
  add_row(page, "3", " 3 ", "-4e1");
  add_row(page, std::nullopt, "1", "1");
  add_row(page, "5", "abc", "1");
  add_row(page, "6", "6", "7");
  const auto encoded = encode_page(page, two_column_mapping(data_type::fp32, 2));
  ASSERT_EQ(encoded.rejects.size(), 3u);
  EXPECT_EQ(encoded.rejects[0].key, "2");
  EXPECT_EQ(encoded.rejects[0].reason, "column a is NULL");
  EXPECT_EQ(encoded.rejects[0].row_values, "a=NULL, b=2");
  EXPECT_EQ(encoded.rejects[1].key, "");
  EXPECT_EQ(encoded.rejects[1].reason, "key column id is NULL");
  EXPECT_EQ(encoded.rejects[2].reason, "column a: 'abc' is not a FP32 value (input x)");
  ASSERT_EQ(encoded.requests.size(), 2u);
  EXPECT_EQ(encoded.requests[0].rows, (std::vector<std::size_t>{0, 2}));
  EXPECT_EQ(encoded.requests[1].rows, (std::vector<std::size_t>{5}));
  const auto& x = encoded.requests[0].inputs[0];
  EXPECT_EQ(x.shape, (std::vector<std::int64_t>{2, 2}));
  EXPECT_EQ(floats(x), (std::vector<float>{1.5f, 2.f, 3.f, -40.f}));
}

TEST(PageEncoder, IntegersOutOfRangeAndUnbatchedModels) {
  row_page page(2);
  add_row(page, "1", "300", "1");
  add_row(page, "2", "7", "8");
  const auto encoded = encode_page(page, two_column_mapping(data_type::uint8, 0));
  ASSERT_EQ(encoded.rejects.size(), 1u);
  EXPECT_EQ(encoded.rejects[0].reason, "column a: '300' is not a UINT8 value (input x)");
  ASSERT_EQ(encoded.requests.size(), 1u);
  EXPECT_EQ(encoded.requests[0].inputs[0].shape, (std::vector<std::int64_t>{2}));
}

TEST(PageEncoder, UnreadableRowsAreRejectedWithTheSourcesReason) {
  row_page page(2);
  add_row(page, "1", std::nullopt, std::nullopt);
  page.mark_unreadable(0, "record has 2 field(s), the header 3");
  const auto encoded = encode_page(page, two_column_mapping(data_type::fp32, 4));
  ASSERT_EQ(encoded.rejects.size(), 1u);
  EXPECT_EQ(encoded.rejects[0].reason, "record has 2 field(s), the header 3");
  EXPECT_TRUE(encoded.requests.empty());
}

TEST(OutputValues, WritesTheIndexedElementOfEachRowInShortestForm) {
  row_page page(2);
  add_row(page, "10", "1", "2");
  add_row(page, "11", "3", "4");
  const auto mapping = two_column_mapping(data_type::fp32, 4);
  const auto encoded = encode_page(page, mapping);
  inference_response response;
  auto y = make_owned_tensor("y", data_type::fp32, {2, 2}, 4 * sizeof(float));
  const float values[] = {0.1f, 0.2f, 0.3f, 1.0f / 3.0f};
  std::memcpy(mutable_data(y), values, sizeof values);
  response.outputs.push_back(y);
  page_result result;
  ASSERT_EQ(append_scores(response, page, mapping, encoded.requests[0], result), std::nullopt);
  EXPECT_EQ(result.keys, (std::vector<std::string>{"10", "11"}));
  EXPECT_EQ(result.values, (std::vector<std::string>{"0.2", "0.33333334"}));

  inference_response missing;
  page_result untouched;
  EXPECT_NE(append_scores(missing, page, mapping, encoded.requests[0], untouched)->find("no output 'y'"),
            std::string::npos);
  EXPECT_TRUE(untouched.keys.empty());
}

}  // namespace
}  // namespace surge::score
