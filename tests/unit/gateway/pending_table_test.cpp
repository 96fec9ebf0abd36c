#include "gateway/pending_table.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <map>
#include <random>
#include <string>
#include <vector>

namespace surge::gateway {
namespace {

using namespace std::chrono_literals;
using table = pending_table<std::string>;
using time_point = table::clock::time_point;

const time_point t0{};

std::vector<table::id_type> ids_of(const std::vector<table::entry>& entries) {
  std::vector<table::id_type> ids;
  for (const auto& e : entries) ids.push_back(e.id);
  return ids;
}

TEST(PendingTable, AReplyTakesItsRequestOnceAndADuplicateFindsNothing) {
  table pending;
  const auto id = pending.add("m", t0 + 1s, "request");
  const auto taken = pending.take(id);
  ASSERT_TRUE(taken);
  EXPECT_EQ(taken->id, id);
  EXPECT_EQ(taken->model, "m");
  EXPECT_EQ(taken->payload, "request");
  EXPECT_EQ(taken->deadline, t0 + 1s);
  EXPECT_FALSE(pending.take(id));
  EXPECT_TRUE(pending.empty());
  // Its deadline left with it: nothing expires later.
  EXPECT_FALSE(pending.next_deadline());
  EXPECT_TRUE(pending.take_expired(t0 + 1h).empty());
}

TEST(PendingTable, AReplyForAnIdNeverIssuedFindsNothing) {
  table pending;
  const auto id = pending.add("m", std::nullopt, "a");
  EXPECT_FALSE(pending.take(id + 1));
  EXPECT_FALSE(pending.take(0));
  EXPECT_TRUE(pending.contains(id));
}

TEST(PendingTable, IdsAreNeverReused) {
  table pending;
  const auto first = pending.add("m", std::nullopt, "a");
  ASSERT_TRUE(pending.take(first));
  const auto second = pending.add("m", std::nullopt, "b");
  EXPECT_NE(first, second);
  // The first request's late reply cannot answer the second request.
  EXPECT_FALSE(pending.take(first));
  EXPECT_EQ(pending.take(second)->payload, "b");
}

TEST(PendingTable, ADeadlineAnswersItsRequestAndTheLateReplyIsDropped) {
  table pending;
  const auto id = pending.add("m", t0 + 100ms, "a");
  EXPECT_TRUE(pending.take_expired(t0 + 99ms).empty());
  const auto expired = pending.take_expired(t0 + 100ms);
  ASSERT_EQ(expired.size(), 1u);
  EXPECT_EQ(expired[0].id, id);
  EXPECT_EQ(expired[0].payload, "a");
  EXPECT_FALSE(pending.take(id));
  EXPECT_TRUE(pending.take_expired(t0 + 200ms).empty());
}

TEST(PendingTable, ExpiresOnlyWhatIsDueEarliestFirst) {
  table pending;
  const auto late = pending.add("m", t0 + 30ms, "late");
  const auto never = pending.add("m", std::nullopt, "no deadline");
  const auto early = pending.add("n", t0 + 10ms, "early");
  const auto middle = pending.add("m", t0 + 20ms, "middle");
  EXPECT_EQ(ids_of(pending.take_expired(t0 + 25ms)), (std::vector{early, middle}));
  EXPECT_EQ(pending.size(), 2u);
  EXPECT_EQ(ids_of(pending.take_expired(t0 + 1h)), (std::vector{late}));
  // A request without a deadline waits for its reply however long it takes.
  EXPECT_TRUE(pending.contains(never));
}

TEST(PendingTable, RequestsWithTheSameDeadlineAllExpire) {
  table pending;
  const auto a = pending.add("m", t0 + 5ms, "a");
  const auto b = pending.add("m", t0 + 5ms, "b");
  EXPECT_EQ(ids_of(pending.take_expired(t0 + 5ms)), (std::vector{a, b}));
}

TEST(PendingTable, NextDeadlineIsTheEarliestStillPending) {
  table pending;
  EXPECT_FALSE(pending.next_deadline());
  pending.add("m", std::nullopt, "a");
  EXPECT_FALSE(pending.next_deadline());
  const auto later = pending.add("m", t0 + 50ms, "b");
  const auto sooner = pending.add("m", t0 + 20ms, "c");
  EXPECT_EQ(pending.next_deadline(), t0 + 20ms);
  // Answered by its reply: the timer need not wake for it.
  ASSERT_TRUE(pending.take(sooner));
  EXPECT_EQ(pending.next_deadline(), t0 + 50ms);
  ASSERT_TRUE(pending.take(later));
  EXPECT_FALSE(pending.next_deadline());
}

TEST(PendingTable, FailingAModelTakesOnlyItsRequestsOldestFirst) {
  table pending;
  const auto m1 = pending.add("m", t0 + 10ms, "m1");
  const auto n1 = pending.add("n", t0 + 10ms, "n1");
  const auto m2 = pending.add("m", std::nullopt, "m2");
  EXPECT_EQ(pending.outstanding("m"), 2u);
  EXPECT_EQ(pending.outstanding("n"), 1u);
  EXPECT_EQ(ids_of(pending.take_model("m")), (std::vector{m1, m2}));
  EXPECT_EQ(pending.outstanding("m"), 0u);
  EXPECT_EQ(pending.outstanding("n"), 1u);
  // Their replies and deadlines find nothing; the other model's request is untouched.
  EXPECT_FALSE(pending.take(m1));
  EXPECT_FALSE(pending.take(m2));
  EXPECT_EQ(ids_of(pending.take_expired(t0 + 10ms)), (std::vector{n1}));
  EXPECT_TRUE(pending.take_model("m").empty());
}

TEST(PendingTable, ShutdownTakesEverythingAndNothingIsAnsweredAfterwards) {
  table pending;
  const auto a = pending.add("m", t0 + 10ms, "a");
  const auto b = pending.add("n", std::nullopt, "b");
  const auto c = pending.add("m", t0 + 5ms, "c");
  EXPECT_EQ(ids_of(pending.take_all()), (std::vector{a, b, c}));
  EXPECT_TRUE(pending.empty());
  EXPECT_FALSE(pending.next_deadline());
  EXPECT_TRUE(pending.take_expired(t0 + 1h).empty());
  EXPECT_FALSE(pending.take(b));
  EXPECT_EQ(pending.outstanding("m"), 0u);
}

TEST(PendingTable, TheStreamEntryIdTravelsWithTheRequest) {
  table pending;
  const auto id = pending.add("m", std::nullopt, "a");
  EXPECT_TRUE(pending.record_stream_entry(id, "1700000000000-0"));
  EXPECT_EQ(pending.take(id)->stream_entry_id, "1700000000000-0");
  // XADD answered after the request was: the caller learns it should delete the entry.
  const auto answered = pending.add("m", t0, "b");
  ASSERT_EQ(pending.take_expired(t0).size(), 1u);
  EXPECT_FALSE(pending.record_stream_entry(answered, "1700000000001-0"));
  EXPECT_TRUE(pending.take(pending.add("m", std::nullopt, "c"))->stream_entry_id.empty());
}

// Random interleavings of every way a request can be answered, with a
// fixed seed: each request comes out of the table exactly once, every other
// attempt (a late or duplicate reply, a deadline after the reply) finds
// nothing, and the per-model counts always match what is pending.
TEST(PendingTable, EveryRequestLeavesExactlyOnceUnderRandomInterleavings) {
  std::mt19937 random(20240601);
  const std::vector<std::string> models{"a", "b", "c"};
  for (int round = 0; round < 50; ++round) {
    table pending;
    std::map<table::id_type, int> answers;  // every id issued -> times it came out
    std::map<table::id_type, std::string> model_of;
    std::vector<table::id_type> issued;
    auto now = t0;
    std::size_t dropped = 0, dropped_expected = 0;
    const auto count_out = [&](const std::vector<table::entry>& out) {
      for (const auto& e : out) {
        ++answers.at(e.id);
        EXPECT_EQ(e.model, model_of.at(e.id));
        EXPECT_EQ(e.payload, "request " + std::to_string(e.id));
      }
    };
    for (int step = 0; step < 400; ++step) {
      switch (random() % 6) {
        case 0:
        case 1: {  // a request is sent
          const auto& model = models[random() % models.size()];
          std::optional<time_point> deadline;
          if (random() % 3 != 0) deadline = now + std::chrono::milliseconds(random() % 50);
          const auto id = pending.add(model, deadline, "request " + std::to_string(issued.size() + 1));
          ASSERT_EQ(id, issued.size() + 1) << "ids count up from 1";
          issued.push_back(id);
          answers[id] = 0;
          model_of[id] = model;
          break;
        }
        case 2:
        case 3: {  // a reply arrives, often for an id already answered
          if (issued.empty()) break;
          const auto id = issued[random() % issued.size()] + (random() % 8 == 0 ? 1000 : 0);
          const bool was_pending = pending.contains(id);
          const auto taken = pending.take(id);
          EXPECT_EQ(taken.has_value(), was_pending);
          if (taken) {
            count_out({*taken});
          } else {
            ++dropped;
          }
          if (!was_pending) ++dropped_expected;
          break;
        }
        case 4: {  // time passes, the deadline timer fires
          now += std::chrono::milliseconds(random() % 20);
          const auto expired = pending.take_expired(now);
          for (const auto& e : expired) EXPECT_LE(*e.deadline, now);
          count_out(expired);
          if (const auto next = pending.next_deadline()) {
            EXPECT_GT(*next, now);
          }
          break;
        }
        case 5:  // a model loses its last worker (rarely)
          if (random() % 8 == 0) count_out(pending.take_model(models[random() % models.size()]));
          break;
      }
      std::map<std::string, std::size_t> expected;
      for (const auto& [id, n] : answers) {
        if (pending.contains(id)) ++expected[model_of[id]];
      }
      for (const auto& model : models) EXPECT_EQ(pending.outstanding(model), expected[model]) << model;
    }
    count_out(pending.take_all());  // shutdown
    EXPECT_TRUE(pending.empty());
    EXPECT_EQ(dropped, dropped_expected);
    for (const auto& [id, n] : answers) EXPECT_EQ(n, 1) << "request " << id;
  }
}

}  // namespace
}  // namespace surge::gateway
