#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <condition_variable>
#include <future>
#include <thread>

#include "instance/batch_assembly.hpp"
#include "instance/in_process_instance.hpp"
#include "scheduler/model_scheduler.hpp"
#include "support/held_instance.hpp"
#include "support/test_support.hpp"

namespace surge {
namespace {

using namespace std::chrono_literals;
using testing::make_request;
using testing::recording_sink;

struct fixture_metrics {
  metrics::registry registry;
  model_metrics metrics{registry, "test_model", 1};
  model_statistics statistics{8};
};

// Runs one batch through an in_process_instance and waits for `done`.
instance::completion run(in_process_instance& inst, std::vector<request_ptr> batch) {
  std::promise<instance::completion> done;
  inst.execute(std::move(batch), [&done](instance::completion c) { done.set_value(c); });
  return done.get_future().get();
}

// Answers every request with its own input renamed OUTPUT0, except a
// request called "bad", which fails alone.
void echo_each(std::vector<request_ptr>& batch, batch_outcome& outcome) {
  for (std::size_t i = 0; i < batch.size(); ++i) {
    if (batch[i]->id == "bad") {
      outcome.answers[i] = make_error(error_code::invalid_argument, "bad row");
      continue;
    }
    auto out = batch[i]->inputs[0];
    out.name = "OUTPUT0";
    outcome.answers[i] = inference_response{{std::move(out)}, {}};
  }
}

// The answers vector sized as backend_instance_handle sizes it.
void sized(std::vector<request_ptr>& batch, batch_outcome& outcome) {
  outcome.failed = false;
  outcome.answers.clear();
  outcome.answers.resize(batch.size());
}

TEST(in_process_instance, answers_each_request_of_a_batch_with_its_own_outcome) {
  fixture_metrics m;
  std::vector<std::size_t> seen_requests;
  in_process_instance inst(
      "echo",
      [&](std::vector<request_ptr>& batch, batch_outcome& outcome) {
        seen_requests.push_back(batch.size());
        sized(batch, outcome);
        echo_each(batch, outcome);
      },
      m.metrics, m.statistics);
  auto a = make_request("a", clock::now(), 1);
  auto bad = make_request("bad", clock::now(), 1);
  auto b = make_request("b", clock::now(), 2);
  const auto a_input = std::vector<std::byte>(a.request->inputs[0].data.begin(), a.request->inputs[0].data.end());
  std::vector<request_ptr> batch;
  batch.push_back(std::move(a.request));
  batch.push_back(std::move(bad.request));
  batch.push_back(std::move(b.request));
  auto done = run(inst, std::move(batch));

  EXPECT_EQ(seen_requests, (std::vector<std::size_t>{3}));
  EXPECT_EQ(done.batch_rows, 4u);
  EXPECT_FALSE(done.failed);
  ASSERT_EQ(a.sink->finish_count, 1);
  ASSERT_EQ(b.sink->finish_count, 1);
  ASSERT_EQ(bad.sink->finish_count, 1);
  EXPECT_FALSE(a.sink->failure);
  ASSERT_EQ(a.sink->responses.size(), 1u);
  const auto& out_a = a.sink->responses[0].outputs.at(0);
  EXPECT_EQ(out_a.shape, (std::vector<std::int64_t>{1, 4}));
  EXPECT_TRUE(std::equal(out_a.data.begin(), out_a.data.end(), a_input.begin(), a_input.end()));
  EXPECT_EQ(b.sink->responses[0].outputs.at(0).shape, (std::vector<std::int64_t>{2, 4}));
  ASSERT_TRUE(bad.sink->failure);
  EXPECT_EQ(bad.sink->failure->message, "bad row");
  EXPECT_TRUE(bad.sink->responses.empty());
  EXPECT_EQ(m.statistics.execution_count.load(), 1u);
  EXPECT_EQ(m.statistics.inference_count.load(), 4u);
}

TEST(in_process_instance, a_short_execute_backend_runs_on_the_calling_thread_and_is_done_on_return) {
  fixture_metrics m;
  std::thread::id ran_on;
  in_process_instance inst(
      "inline",
      [&](std::vector<request_ptr>& batch, batch_outcome& outcome) {
        ran_on = std::this_thread::get_id();
        sized(batch, outcome);
        echo_each(batch, outcome);
      },
      m.metrics, m.statistics, in_process_instance::threading::caller);
  auto a = make_request("a", clock::now(), 1);
  std::vector<request_ptr> batch;
  batch.push_back(std::move(a.request));
  std::optional<instance::completion> done;
  inst.execute(std::move(batch), [&](instance::completion c) { done = c; });
  ASSERT_TRUE(done) << "done before execute returned";
  EXPECT_EQ(done->batch_rows, 1u);
  EXPECT_EQ(ran_on, std::this_thread::get_id());
  EXPECT_EQ(a.sink->finish_count, 1);
  EXPECT_FALSE(a.sink->failure);
  inst.stop();
}

TEST(in_process_instance, a_failing_batch_answers_every_request_with_the_error) {
  fixture_metrics m;
  in_process_instance inst(
      "broken",
      [](std::vector<request_ptr>& batch, batch_outcome& outcome) {
        sized(batch, outcome);
        outcome.failed = true;
        for (auto& answer : outcome.answers) answer = make_error(error_code::internal, "injected failure");
      },
      m.metrics, m.statistics);
  std::vector<testing::made_request> made;
  std::vector<request_ptr> batch;
  for (int i = 0; i < 3; ++i) {
    made.push_back(make_request("r" + std::to_string(i), clock::now()));
    batch.push_back(std::move(made.back().request));
  }
  auto done = run(inst, std::move(batch));
  EXPECT_TRUE(done.failed);
  EXPECT_EQ(m.statistics.execution_count.load(), 0u);
  for (auto& r : made) {
    EXPECT_EQ(r.sink->finish_count, 1);
    ASSERT_TRUE(r.sink->failure);
    EXPECT_EQ(r.sink->failure->code, error_code::internal);
    EXPECT_EQ(r.sink->failure->message, "injected failure");
    EXPECT_TRUE(r.sink->responses.empty());
  }
}

TEST(in_process_instance, a_request_taken_over_by_the_backend_is_left_to_it) {
  fixture_metrics m;
  std::vector<request_ptr> taken;
  in_process_instance inst(
      "decoupled",
      [&](std::vector<request_ptr>& batch, batch_outcome& outcome) {
        sized(batch, outcome);
        for (auto& request : batch) taken.push_back(std::move(request));  // answers stay std::monostate
      },
      m.metrics, m.statistics);
  auto r = make_request("r", clock::now());
  std::vector<request_ptr> batch;
  batch.push_back(std::move(r.request));
  run(inst, std::move(batch));
  ASSERT_EQ(taken.size(), 1u);
  EXPECT_EQ(r.sink->finish_count, 0);
  taken.front()->sink->finish(std::nullopt);
  EXPECT_EQ(r.sink->finish_count, 1);
}

TEST(in_process_instance, a_request_cancelled_before_its_batch_runs_is_not_executed) {
  fixture_metrics m;
  std::int64_t executed_rows = 0;
  in_process_instance inst(
      "echo",
      [&](std::vector<request_ptr>& batch, batch_outcome& outcome) {
        sized(batch, outcome);
        for (const auto& request : batch) executed_rows += request->batch_rows();
        echo_each(batch, outcome);
      },
      m.metrics, m.statistics);
  auto gone = make_request("gone", clock::now());
  auto stays = make_request("stays", clock::now());
  gone.request->cancellation->cancel();
  std::vector<request_ptr> batch;
  batch.push_back(std::move(gone.request));
  batch.push_back(std::move(stays.request));
  run(inst, std::move(batch));
  EXPECT_EQ(executed_rows, 1);
  ASSERT_TRUE(gone.sink->failure);
  EXPECT_EQ(gone.sink->failure->code, error_code::cancelled);
  EXPECT_FALSE(stays.sink->failure);
}

TEST(batch_assembly, output_with_wrong_row_count_is_an_error) {
  auto out = testing::fp32_tensor("OUTPUT0", {2, 4}, 0.0f);
  auto split = scatter_outputs({out}, {1, 2});
  ASSERT_TRUE(std::holds_alternative<error>(split));
  EXPECT_NE(std::get<error>(split).message.find("OUTPUT0"), std::string::npos);
}

TEST(batch_assembly, bytes_outputs_split_on_element_boundaries) {
  // Three BYTES elements: "a", "bc", "" — rows of 1 and 2.
  std::vector<std::byte> raw;
  for (std::string s : {"a", "bc", ""}) {
    std::uint32_t n = static_cast<std::uint32_t>(s.size());
    const auto* p = reinterpret_cast<const std::byte*>(&n);
    raw.insert(raw.end(), p, p + 4);
    for (char c : s) raw.push_back(static_cast<std::byte>(c));
  }
  auto t = make_owned_tensor("OUT", data_type::bytes, {3}, raw.size());
  std::memcpy(mutable_data(t), raw.data(), raw.size());
  auto split = scatter_outputs({t}, {1, 2});
  ASSERT_TRUE(std::holds_alternative<std::vector<std::vector<tensor>>>(split));
  const auto& parts = std::get<std::vector<std::vector<tensor>>>(split);
  EXPECT_EQ(parts[0][0].data.size(), 5u);
  EXPECT_EQ(parts[1][0].data.size(), 10u);
  EXPECT_EQ(parts[1][0].shape, (std::vector<std::int64_t>{2}));
}

using testing::held_instance;

// Waits for the n-th batch (0-based) and returns its request ids.
std::vector<std::string> wait_for_batch(held_instance& inst, std::size_t n) {
  EXPECT_TRUE(inst.wait_for_batches(n + 1)) << "no batch " << n;
  return inst.batch_ids(n);
}

// A scheduler over one held_instance, its io_context run by a thread of its own.
struct scheduler_fixture {
  explicit scheduler_fixture(batcher_options options) {
    auto owned = std::make_unique<held_instance>();
    inst = owned.get();
    std::vector<std::unique_ptr<instance>> instances;
    instances.push_back(std::move(owned));
    scheduler = std::make_shared<model_scheduler>(io.get_executor(), std::move(options), std::move(instances),
                                                  m.metrics, m.statistics);
  }
  ~scheduler_fixture() {
    guard.reset();
    io_thread.join();
  }

  boost::asio::io_context io;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> guard{io.get_executor()};
  std::thread io_thread{[this] { io.run(); }};
  fixture_metrics m;
  held_instance* inst{nullptr};
  std::shared_ptr<model_scheduler> scheduler;
};

TEST(model_scheduler, queues_behind_a_busy_instance_then_batches_the_backlog) {
  batcher_options options;
  options.max_batch_size = 8;
  scheduler_fixture f(options);
  auto& scheduler = f.scheduler;
  auto* inst = f.inst;

  auto first = make_request("first", clock::now());
  scheduler->schedule(std::move(first.request));
  EXPECT_EQ(wait_for_batch(*inst, 0), (std::vector<std::string>{"first"}));

  std::vector<testing::made_request> backlog;
  for (int i = 0; i < 3; ++i) {
    backlog.push_back(make_request("b" + std::to_string(i), clock::now()));
    scheduler->schedule(std::move(backlog.back().request));
  }
  inst->complete(0);
  EXPECT_EQ(wait_for_batch(*inst, 1), (std::vector<std::string>{"b0", "b1", "b2"}));
  inst->complete(1);
  for (auto& r : backlog) EXPECT_TRUE(r.sink->wait_finished());

  scheduler->stop();
}

TEST(model_scheduler, full_queue_answers_unavailable_and_stop_answers_the_rest) {
  batcher_options options;
  options.max_batch_size = 1;
  options.default_queue_policy.max_queue_size = 1;
  scheduler_fixture f(options);
  auto& scheduler = f.scheduler;
  auto* inst = f.inst;

  auto running = make_request("running", clock::now());
  scheduler->schedule(std::move(running.request));
  wait_for_batch(*inst, 0);
  auto queued = make_request("queued", clock::now());
  auto refused = make_request("refused", clock::now());
  scheduler->schedule(std::move(queued.request));
  scheduler->schedule(std::move(refused.request));
  ASSERT_TRUE(refused.sink->wait_finished());
  ASSERT_TRUE(refused.sink->failure);
  EXPECT_EQ(refused.sink->failure->code, error_code::unavailable);

  scheduler->stop();
  ASSERT_TRUE(queued.sink->wait_finished());
  EXPECT_EQ(queued.sink->failure->code, error_code::not_ready);
  inst->complete(0);
  EXPECT_EQ(running.sink->finish_count, 1);
}

}  // namespace
}  // namespace surge
