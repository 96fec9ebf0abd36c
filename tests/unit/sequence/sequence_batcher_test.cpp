// The sequence batcher in front of a fake queue: what reaches the model
// (control tensors, the slot parameter), in what order, and the refusals.
#include "sequence/sequence_batcher.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <cstring>
#include <google/protobuf/text_format.h>

#include "support/test_support.hpp"

namespace surge {
namespace {

using ::testing::HasSubstr;

// Stands in for the model's dynamic batcher: keeps what it is handed.
class recording_queue final : public request_scheduler {
 public:
  void schedule(request_ptr request) override { scheduled.push_back(std::move(request)); }
  void drain(clock::time_point, std::function<void()> drained) override { drained(); }
  void join() override {}
  void stop() override {}
  std::vector<request_ptr> scheduled;
};

config::ModelConfig accumulator_config() {
  config::ModelConfig config;
  google::protobuf::TextFormat::ParseFromString(R"(
    name: "acc"
    max_batch_size: 4
    sequence_batching {
      max_sequence_idle_microseconds: 1000000
      control_input [
        { name: "START" control [ { kind: CONTROL_SEQUENCE_START int32_false_true: [ 0, 1 ] } ] },
        { name: "READY" control [ { kind: CONTROL_SEQUENCE_READY fp32_false_true: [ 0, 1 ] } ] },
        { name: "CORRID" control [ { kind: CONTROL_SEQUENCE_CORRID data_type: TYPE_UINT64 } ] }
      ]
    }
  )",
                                                &config);
  return config;
}

testing::made_request step(std::string id, std::string sequence, bool start = false, bool end = false) {
  auto made = testing::make_request(std::move(id), clock::now(), 1, 1);
  made.request->model = "acc";
  made.request->parameters.emplace_back("sequence_id", std::move(sequence));
  if (start) made.request->parameters.emplace_back("sequence_start", "true");
  if (end) made.request->parameters.emplace_back("sequence_end", "true");
  return made;
}

const tensor* input_named(const inference_request& request, std::string_view name) {
  for (const auto& input : request.inputs) {
    if (input.name == name) return &input;
  }
  return nullptr;
}

template <class T>
T value_of(const tensor& t) {
  T v;
  std::memcpy(&v, t.data.data(), sizeof v);
  return v;
}

std::string parameter(const inference_request& request, std::string_view key) {
  for (const auto& [k, v] : request.parameters) {
    if (k == key) return v;
  }
  return "";
}

struct batcher_fixture {
  // The steps' sinks hold the batcher, which holds the queue that holds
  // them; a real queue answers and drops every step, this one is emptied.
  ~batcher_fixture() { queue->scheduled.clear(); }

  boost::asio::io_context io;
  std::shared_ptr<recording_queue> queue = std::make_shared<recording_queue>();
  std::shared_ptr<sequence_batcher> batcher =
      std::make_shared<sequence_batcher>(io.get_executor(), accumulator_config(), 2, queue);
};

TEST(SequenceBatcher, AStepGetsItsControlTensorsAndSlot) {
  batcher_fixture f;
  auto first = step("s0", "1001", true);
  f.batcher->schedule(std::move(first.request));
  ASSERT_EQ(f.queue->scheduled.size(), 1u);
  const auto& request = *f.queue->scheduled[0];
  const auto* start = input_named(request, "START");
  const auto* ready = input_named(request, "READY");
  const auto* corrid = input_named(request, "CORRID");
  ASSERT_TRUE(start && ready && corrid);
  EXPECT_EQ(start->type, data_type::int32);
  EXPECT_EQ(start->shape, (std::vector<std::int64_t>{1, 1}));
  EXPECT_EQ(value_of<std::int32_t>(*start), 1);
  EXPECT_EQ(value_of<float>(*ready), 1.0f);
  EXPECT_EQ(corrid->type, data_type::uint64);
  EXPECT_EQ(value_of<std::uint64_t>(*corrid), 1001u);
  EXPECT_EQ(parameter(request, "sequence_slot"), "0");
}

TEST(SequenceBatcher, TheNextStepWaitsUntilTheRunningOneIsAnswered) {
  batcher_fixture f;
  auto a = step("s0", "1001", true);
  auto b = step("s1", "1001");
  auto first_sink = a.sink;
  f.batcher->schedule(std::move(a.request));
  f.batcher->schedule(std::move(b.request));
  ASSERT_EQ(f.queue->scheduled.size(), 1u);
  f.queue->scheduled[0]->sink->finish(std::nullopt);
  EXPECT_EQ(first_sink->finish_count, 1);
  ASSERT_EQ(f.queue->scheduled.size(), 2u);
  const auto& second = *f.queue->scheduled[1];
  EXPECT_EQ(second.id, "s1");
  EXPECT_EQ(value_of<std::int32_t>(*input_named(second, "START")), 0);
  f.queue->scheduled[1]->sink->finish(std::nullopt);
}

TEST(SequenceBatcher, ARequestWithoutASequenceIdIsRefused) {
  batcher_fixture f;
  auto made = testing::make_request("x", clock::now(), 1, 1);
  f.batcher->schedule(std::move(made.request));
  ASSERT_EQ(made.sink->finish_count, 1);
  ASSERT_TRUE(made.sink->failure);
  EXPECT_EQ(made.sink->failure->code, error_code::invalid_argument);
  EXPECT_THAT(made.sink->failure->message, HasSubstr("needs a sequence_id parameter"));
  EXPECT_TRUE(f.queue->scheduled.empty());
}

TEST(SequenceBatcher, AnIdThatIsNotAnIntegerIsRefusedForAnIntegerCorrid) {
  batcher_fixture f;
  auto made = step("x", "session-a", true);
  f.batcher->schedule(std::move(made.request));
  ASSERT_TRUE(made.sink->failure);
  EXPECT_THAT(made.sink->failure->message, HasSubstr("does not fit control input 'CORRID'"));
}

TEST(SequenceBatcher, AStepOfSeveralRowsIsRefused) {
  batcher_fixture f;
  auto made = testing::make_request("x", clock::now(), 2, 1);
  made.request->parameters.emplace_back("sequence_id", "5");
  made.request->parameters.emplace_back("sequence_start", "true");
  f.batcher->schedule(std::move(made.request));
  ASSERT_TRUE(made.sink->failure);
  EXPECT_THAT(made.sink->failure->message, HasSubstr("batch dimension must be 1, got 2"));
}

TEST(SequenceBatcher, DrainAnswersWaitingStepsNotReady) {
  batcher_fixture f;
  auto a = step("s0", "1", true);
  auto b = step("s1", "1");
  auto waiting = b.sink;
  f.batcher->schedule(std::move(a.request));
  f.batcher->schedule(std::move(b.request));
  bool drained = false;
  f.batcher->drain(clock::now(), [&] { drained = true; });
  EXPECT_TRUE(drained);
  ASSERT_EQ(waiting->finish_count, 1);
  EXPECT_EQ(waiting->failure->code, error_code::not_ready);
  f.queue->scheduled[0]->sink->finish(std::nullopt);  // the running step still answers
}

TEST(SequenceSlots, OldestUsesItsCandidatesAndDirectOneSlotPerBatchRow) {
  auto config = accumulator_config();
  EXPECT_EQ(sequence_slots(config, 2), 8u);
  config.mutable_sequence_batching()->mutable_oldest()->set_max_candidate_sequences(16);
  EXPECT_EQ(sequence_slots(config, 2), 16u);
}

}  // namespace
}  // namespace surge
