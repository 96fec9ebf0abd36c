// A scheduler and an in-process instance over a real backend library
// (tests/unit/backends/test_backend.cpp): what reaches clients when the
// requests of one batch fare differently, and cancellation seen by the
// backend while it executes.
#include <gtest/gtest.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <memory>
#include <thread>

#include "backend_loader/backend_instance.hpp"
#include "support/backend_test_support.hpp"
#include "instance/in_process_instance.hpp"
#include "scheduler/model_scheduler.hpp"
#include "support/test_backend_control.hpp"

namespace surge {
namespace {

using testing::make_input;
using testing::request_of;
using testing::values_of;

tensor row(float value) { return make_input<float>("INPUT0", data_type::fp32, {1, 2}, {value, value}); }

// One model_scheduler over one in_process_instance of the test backend, its
// io_context run by a thread of its own.
class backend_batch_test : public ::testing::Test {
 protected:
  void SetUp() override {
    auto library = backend_library::load(control_.directory(), "test");
    ASSERT_TRUE(std::holds_alternative<std::shared_ptr<backend_library>>(library)) << std::get<error>(library).message;
    auto model =
        backend_model::create(std::get<std::shared_ptr<backend_library>>(library), testing::test_backend_spec());
    ASSERT_TRUE(std::holds_alternative<std::shared_ptr<backend_model>>(model)) << std::get<error>(model).message;
    auto handle = backend_instance_handle::create(std::get<std::shared_ptr<backend_model>>(model), 0);
    ASSERT_TRUE(std::holds_alternative<backend_instance_handle>(handle));
    auto shared = std::make_shared<backend_instance_handle>(std::get<backend_instance_handle>(std::move(handle)));
    std::vector<std::unique_ptr<instance>> instances;
    instances.push_back(std::make_unique<in_process_instance>(
        "test_0",
        [shared](std::vector<request_ptr>& batch, batch_outcome& outcome) { shared->execute(batch, outcome); },
        metrics_, statistics_));
    batcher_options options;
    options.max_batch_size = 8;
    scheduler_ = std::make_shared<model_scheduler>(io_.get_executor(), options, std::move(instances), metrics_,
                                                   statistics_);
  }

  void TearDown() override {
    control_.release();  // nothing may stay blocked past the test
    if (scheduler_) scheduler_->stop();
    guard_.reset();
    io_thread_.join();
  }

  testing::test_backend_control control_;
  metrics::registry registry_;
  model_metrics metrics_{registry_, "m", 1};
  model_statistics statistics_{8};
  boost::asio::io_context io_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> guard_{io_.get_executor()};
  std::thread io_thread_{[this] { io_.run(); }};
  std::shared_ptr<model_scheduler> scheduler_;
};

TEST_F(backend_batch_test, each_request_of_a_batch_gets_its_own_answer) {
  // The first request holds the instance, so the next three queue and run
  // together as one batch.
  auto holder = request_of("holder", {row(0)}, {{"block", "true"}});
  scheduler_->schedule(std::move(holder.request));
  ASSERT_TRUE(control_.wait_blocked(1));

  auto good = request_of("good", {row(1)});
  auto bad = request_of("bad", {row(2)}, {{"fail", "row 2 is unusable"}});
  auto forgotten = request_of("forgotten", {row(3)}, {{"forget", "true"}});
  for (auto* made : {&good, &bad, &forgotten}) scheduler_->schedule(std::move(made->request));
  control_.release();
  for (auto* made : {&holder, &good, &bad, &forgotten}) ASSERT_TRUE(made->sink->wait_finished());

  EXPECT_EQ(control_.counter("executes"), 2);
  EXPECT_FALSE(holder.sink->failure);
  EXPECT_FALSE(good.sink->failure);
  ASSERT_EQ(good.sink->responses.size(), 1u);
  EXPECT_EQ(values_of<float>(good.sink->responses[0].outputs.at(0)), (std::vector<float>{1, 1}));
  ASSERT_TRUE(bad.sink->failure);
  EXPECT_EQ(bad.sink->failure->code, error_code::invalid_argument);
  EXPECT_EQ(bad.sink->failure->message, "row 2 is unusable");
  EXPECT_TRUE(bad.sink->responses.empty());
  ASSERT_TRUE(forgotten.sink->failure);
  EXPECT_EQ(forgotten.sink->failure->code, error_code::internal);
  EXPECT_NE(forgotten.sink->failure->message.find("backend 'test'"), std::string::npos);
  for (auto* made : {&holder, &good, &bad, &forgotten}) EXPECT_EQ(made->sink->finish_count, 1);
}

TEST_F(backend_batch_test, a_backend_sees_its_request_cancelled_while_it_executes) {
  auto running = request_of("running", {row(1)}, {{"block", "true"}});
  auto token = running.request->cancellation;
  scheduler_->schedule(std::move(running.request));
  ASSERT_TRUE(control_.wait_blocked(1));
  token->cancel();
  ASSERT_TRUE(running.sink->wait_finished());
  EXPECT_EQ(control_.counter("cancellations_seen"), 1);
  ASSERT_TRUE(running.sink->failure);
  EXPECT_EQ(running.sink->failure->message, "cancelled");
}

}  // namespace
}  // namespace surge
