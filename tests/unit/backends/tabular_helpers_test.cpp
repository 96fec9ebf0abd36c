// The framework-free pieces the onnxruntime and xgboost backends share:
// BYTES tensors to and from strings (with the UTF-8 check that turns bad text
// into a 400) and the config-against-model shape rules.
#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

// The helpers live beside the backends, outside the test include path.
#include "../../../backends/common/bytes_tensor.hpp"
#include "../../../backends/common/shape_match.hpp"

namespace {

namespace bt = surge::bytes_tensor;
namespace sm = surge::shape_match;

std::vector<std::byte> encode(const std::vector<std::string>& elements) {
  std::vector<std::byte> out;
  for (const auto& e : elements) bt::append(out, e);
  return out;
}

TEST(bytes_tensor_test, utf8_accepts_text_and_refuses_malformed_sequences) {
  EXPECT_TRUE(bt::is_utf8(""));
  EXPECT_TRUE(bt::is_utf8("setosa"));
  EXPECT_TRUE(bt::is_utf8("na\xc3\xafve \xe2\x82\xac \xf0\x9f\x8c\xb8"));  // ï € 🌸
  EXPECT_TRUE(bt::is_utf8(std::string("a\0b", 3)));
  EXPECT_FALSE(bt::is_utf8("\xff\xfe"));
  EXPECT_FALSE(bt::is_utf8("\xc3"));              // truncated
  EXPECT_FALSE(bt::is_utf8("\xc0\xaf"));          // overlong '/'
  EXPECT_FALSE(bt::is_utf8("\xe0\x80\xaf"));      // overlong, three bytes
  EXPECT_FALSE(bt::is_utf8("\xed\xa0\x80"));      // a UTF-16 surrogate
  EXPECT_FALSE(bt::is_utf8("\xf4\x90\x80\x80"));  // above U+10FFFF
  EXPECT_FALSE(bt::is_utf8("\xe2\x28\xa1"));      // bad continuation
}

TEST(bytes_tensor_test, split_reads_back_what_append_wrote) {
  const auto data = encode({"setosa", "", std::string("x\0y", 3)});
  EXPECT_EQ(data.size(), bt::encoded_size(std::vector<std::size_t>{6, 0, 3}));
  const auto elements = bt::split(data, 3);
  ASSERT_TRUE(elements);
  ASSERT_EQ(elements->size(), 3u);
  EXPECT_EQ((*elements)[0], "setosa");
  EXPECT_EQ((*elements)[1], "");
  EXPECT_EQ((*elements)[2], std::string_view("x\0y", 3));
}

TEST(bytes_tensor_test, split_refuses_buffers_that_do_not_hold_exactly_count_elements) {
  const auto data = encode({"ab", "cd"});
  EXPECT_FALSE(bt::split(data, 1));  // bytes left over
  EXPECT_FALSE(bt::split(data, 3));  // one missing
  auto truncated = data;
  truncated.pop_back();
  EXPECT_FALSE(bt::split(truncated, 2));  // the last length runs past the end
  std::vector<std::byte> short_prefix(3);
  EXPECT_FALSE(bt::split(short_prefix, 1));
  EXPECT_TRUE(bt::split({}, 0));
}

TEST(shape_match_test, fixed_model_dims_need_the_same_config_dims) {
  const std::vector<std::int64_t> model{-1, 4};
  EXPECT_TRUE(sm::fits(model, std::vector<std::int64_t>{-1, 4}));
  EXPECT_TRUE(sm::fits(model, std::vector<std::int64_t>{8, 4}));
  EXPECT_FALSE(sm::fits(model, std::vector<std::int64_t>{-1, 5}));
  EXPECT_FALSE(sm::fits(model, std::vector<std::int64_t>{-1, -1}));  // the model fixes 4
  EXPECT_FALSE(sm::fits(model, std::vector<std::int64_t>{4}));       // another rank
}

TEST(shape_match_test, config_dims_drop_the_batch_dimension_of_a_batching_model) {
  const std::vector<std::int64_t> model{-1, 3};
  EXPECT_TRUE(sm::batchable(model));
  EXPECT_FALSE(sm::batchable(std::vector<std::int64_t>{2, 3}));
  EXPECT_FALSE(sm::batchable(std::vector<std::int64_t>{}));
  EXPECT_EQ(sm::config_dims(model, true), (std::vector<std::int64_t>{3}));
  EXPECT_EQ(sm::config_dims(model, false), (std::vector<std::int64_t>{-1, 3}));
}

}  // namespace
