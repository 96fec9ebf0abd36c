#include "worker/batch_grouping.hpp"

#include <gtest/gtest.h>

namespace surge::worker {
namespace {

inference_request make(std::vector<std::int64_t> shape, std::int64_t version = 1, std::string input = "x") {
  inference_request r;
  r.version = version;
  tensor t;
  t.name = std::move(input);
  t.type = data_type::fp32;
  t.shape = std::move(shape);
  r.inputs.push_back(std::move(t));
  return r;
}

std::vector<std::vector<std::size_t>> group(const std::vector<inference_request>& requests, std::uint32_t max) {
  std::vector<const inference_request*> pointers;
  for (const auto& r : requests) pointers.push_back(&r);
  return group_batches(pointers, max);
}

using groups = std::vector<std::vector<std::size_t>>;

TEST(BatchGrouping, FillsBatchesUpToMaxRows) {
  std::vector<inference_request> requests{make({2, 3}), make({1, 3}), make({2, 3}), make({1, 3})};
  EXPECT_EQ(group(requests, 4), (groups{{0, 1, 3}, {2}}));
  EXPECT_EQ(group(requests, 8), (groups{{0, 1, 2, 3}}));
}

TEST(BatchGrouping, KeepsIncompatibleShapesVersionsAndInputsApart) {
  std::vector<inference_request> requests{make({1, 3}), make({1, 4}), make({1, 3}, 2), make({1, 3}, 1, "y"),
                                          make({1, 3})};
  EXPECT_EQ(group(requests, 8), (groups{{0, 4}, {1}, {2}, {3}}));
}

TEST(BatchGrouping, RunsEachRequestAloneWhenTheModelDoesNotBatch) {
  std::vector<inference_request> requests{make({3}), make({3})};
  EXPECT_EQ(group(requests, 0), (groups{{0}, {1}}));
}

TEST(BatchGrouping, ARequestLargerThanTheLimitStillRunsAlone) {
  std::vector<inference_request> requests{make({6, 3}), make({1, 3})};
  EXPECT_EQ(group(requests, 4), (groups{{0}, {1}}));
}

}  // namespace
}  // namespace surge::worker
