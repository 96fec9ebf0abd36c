// The sequence batcher's decisions, with time passed in: slots, order within
// a sequence, idle timeouts, waiting for a slot, and the refusals.
#include "sequence/sequence_table.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "support/test_support.hpp"

namespace surge {
namespace {

using ::testing::HasSubstr;
using namespace std::chrono_literals;

const clock::time_point t0{};

sequence_controls controls(std::string id, bool start = false, bool end = false) {
  return sequence_controls{std::move(id), start, end};
}

request_ptr request_named(std::string name) { return testing::make_request(std::move(name), t0).request; }

TEST(SequenceTable, AStartTakesASlotAndRunsAtOnce) {
  sequence_table table("acc", 2, 1s, 8);
  sequence_table::effects out;
  table.arrive(request_named("a0"), controls("a", true), t0, out);
  ASSERT_EQ(out.run.size(), 1u);
  EXPECT_EQ(out.run[0].request->id, "a0");
  EXPECT_EQ(out.run[0].slot, 0u);
  EXPECT_TRUE(out.refused.empty());
  EXPECT_EQ(table.live_sequences(), 1u);
}

TEST(SequenceTable, StepsOfOneSequenceRunOneAtATimeInOrder) {
  sequence_table table("acc", 2, 1s, 8);
  sequence_table::effects out;
  table.arrive(request_named("a0"), controls("a", true), t0, out);
  table.arrive(request_named("a1"), controls("a"), t0, out);
  table.arrive(request_named("a2"), controls("a"), t0, out);
  ASSERT_EQ(out.run.size(), 1u);  // a1 and a2 wait behind a0
  out = {};
  table.finished("a", false, t0 + 1ms, out);
  ASSERT_EQ(out.run.size(), 1u);
  EXPECT_EQ(out.run[0].request->id, "a1");
  out = {};
  table.finished("a", false, t0 + 2ms, out);
  ASSERT_EQ(out.run.size(), 1u);
  EXPECT_EQ(out.run[0].request->id, "a2");
  out = {};
  table.finished("a", false, t0 + 3ms, out);
  EXPECT_TRUE(out.run.empty());
}

TEST(SequenceTable, DifferentSequencesRunSideBySideOnTheirOwnSlots) {
  sequence_table table("acc", 2, 1s, 8);
  sequence_table::effects out;
  table.arrive(request_named("a0"), controls("a", true), t0, out);
  table.arrive(request_named("b0"), controls("b", true), t0, out);
  ASSERT_EQ(out.run.size(), 2u);
  EXPECT_NE(out.run[0].slot, out.run[1].slot);
}

TEST(SequenceTable, ARequestWithoutStartForAnUnknownSequenceIsRefused) {
  sequence_table table("acc", 2, 1s, 8);
  sequence_table::effects out;
  table.arrive(request_named("x"), controls("7"), t0, out);
  ASSERT_EQ(out.refused.size(), 1u);
  EXPECT_EQ(out.refused[0].second.code, error_code::invalid_argument);
  EXPECT_THAT(out.refused[0].second.message, HasSubstr("sequence '7' of model 'acc' is not active"));
  EXPECT_THAT(out.refused[0].second.message, HasSubstr("sequence_start"));
}

TEST(SequenceTable, TheEndFreesTheSlotAndLaterStepsAreRefused) {
  sequence_table table("acc", 1, 1s, 8);
  sequence_table::effects out;
  table.arrive(request_named("a0"), controls("a", true, true), t0, out);
  out = {};
  table.finished("a", true, t0, out);
  EXPECT_EQ(table.live_sequences(), 0u);
  table.arrive(request_named("a1"), controls("a"), t0, out);
  ASSERT_EQ(out.refused.size(), 1u);
  // The slot is free for the next sequence.
  out = {};
  table.arrive(request_named("b0"), controls("b", true), t0, out);
  ASSERT_EQ(out.run.size(), 1u);
  EXPECT_EQ(out.run[0].slot, 0u);
}

TEST(SequenceTable, AnIdleSequenceTimesOutAndSaysSo) {
  sequence_table table("acc", 1, 500ms, 8);
  sequence_table::effects out;
  table.arrive(request_named("a0"), controls("a", true), t0, out);
  table.finished("a", false, t0 + 10ms, out);
  ASSERT_TRUE(table.next_expiry());
  EXPECT_EQ(*table.next_expiry(), t0 + 510ms);
  out = {};
  table.expire(t0 + 509ms, out);  // not yet
  EXPECT_EQ(table.live_sequences(), 1u);
  table.expire(t0 + 510ms, out);
  EXPECT_EQ(table.live_sequences(), 0u);
  EXPECT_FALSE(table.next_expiry());
  table.arrive(request_named("a1"), controls("a"), t0 + 600ms, out);
  ASSERT_EQ(out.refused.size(), 1u);
  EXPECT_THAT(out.refused[0].second.message, HasSubstr("timed out: no request came for 500 ms"));
  // Started again, it runs.
  out = {};
  table.arrive(request_named("a2"), controls("a", true), t0 + 700ms, out);
  ASSERT_EQ(out.run.size(), 1u);
}

TEST(SequenceTable, ARunningOrBusySequenceNeverTimesOut) {
  sequence_table table("acc", 1, 100ms, 8);
  sequence_table::effects out;
  table.arrive(request_named("a0"), controls("a", true), t0, out);
  table.arrive(request_named("a1"), controls("a"), t0, out);
  EXPECT_FALSE(table.next_expiry());
  table.expire(t0 + 10s, out);
  EXPECT_EQ(table.live_sequences(), 1u);
}

TEST(SequenceTable, WithEverySlotTakenAStartWaitsForOne) {
  sequence_table table("acc", 1, 1s, 8);
  sequence_table::effects out;
  table.arrive(request_named("a0"), controls("a", true), t0, out);
  table.arrive(request_named("b0"), controls("b", true), t0, out);
  table.arrive(request_named("b1"), controls("b"), t0, out);  // queued behind b's start
  ASSERT_EQ(out.run.size(), 1u);
  EXPECT_EQ(table.waiting_sequences(), 1u);
  out = {};
  table.finished("a", true, t0 + 1ms, out);
  ASSERT_EQ(out.run.size(), 1u);
  EXPECT_EQ(out.run[0].request->id, "b0");
  EXPECT_EQ(out.run[0].slot, 0u);
  out = {};
  table.finished("b", false, t0 + 2ms, out);
  ASSERT_EQ(out.run.size(), 1u);
  EXPECT_EQ(out.run[0].request->id, "b1");
}

TEST(SequenceTable, WaitingForASlotIsBounded) {
  sequence_table table("acc", 1, 1s, 1);
  sequence_table::effects out;
  table.arrive(request_named("a0"), controls("a", true), t0, out);
  table.arrive(request_named("b0"), controls("b", true), t0, out);
  table.arrive(request_named("c0"), controls("c", true), t0, out);
  ASSERT_EQ(out.refused.size(), 1u);
  EXPECT_EQ(out.refused[0].first->id, "c0");
  EXPECT_EQ(out.refused[0].second.code, error_code::unavailable);
  EXPECT_TRUE(out.refused[0].second.retry_after);
}

TEST(SequenceTable, AnIdleTimeoutHandsTheSlotToAWaitingSequence) {
  sequence_table table("acc", 1, 100ms, 8);
  sequence_table::effects out;
  table.arrive(request_named("a0"), controls("a", true), t0, out);
  table.finished("a", false, t0, out);
  out = {};
  table.arrive(request_named("b0"), controls("b", true), t0 + 1ms, out);
  EXPECT_TRUE(out.run.empty());
  table.expire(t0 + 100ms, out);
  ASSERT_EQ(out.run.size(), 1u);
  EXPECT_EQ(out.run[0].request->id, "b0");
}

TEST(SequenceTable, RequestsQueuedAfterTheEndArriveAgain) {
  sequence_table table("acc", 1, 1s, 8);
  sequence_table::effects out;
  table.arrive(request_named("a0"), controls("a", true, true), t0, out);
  table.arrive(request_named("a1"), controls("a"), t0, out);        // after the end: refused
  table.arrive(request_named("a2"), controls("a", true), t0, out);  // a new sequence with the same id
  out = {};
  table.finished("a", true, t0, out);
  ASSERT_EQ(out.refused.size(), 1u);
  EXPECT_EQ(out.refused[0].first->id, "a1");
  ASSERT_EQ(out.run.size(), 1u);
  EXPECT_EQ(out.run[0].request->id, "a2");
}

TEST(SequenceTable, TakeWaitingEmptiesTheTable) {
  sequence_table table("acc", 1, 1s, 8);
  sequence_table::effects out;
  table.arrive(request_named("a0"), controls("a", true), t0, out);
  table.arrive(request_named("a1"), controls("a"), t0, out);
  table.arrive(request_named("b0"), controls("b", true), t0, out);
  EXPECT_EQ(table.take_waiting().size(), 2u);
  EXPECT_EQ(table.live_sequences(), 0u);
  EXPECT_EQ(table.waiting_sequences(), 0u);
}

}  // namespace
}  // namespace surge
