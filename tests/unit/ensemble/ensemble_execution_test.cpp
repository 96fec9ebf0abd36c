// Ensembles run through the registry on real step models: the identity
// backend, and the registry tests' test_kind whose batches a gate holds.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstring>
#include <future>

#include "ensemble/ensemble_loader.hpp"
#include "support/registry_fixture.hpp"

namespace surge::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::StartsWith;

struct ensemble_fixture : registry_fixture {
  ensemble_fixture() {
    registry.add_loader("ensemble",
                        std::make_unique<ensemble::ensemble_loader>([this] { return registry.snapshot(); }));
  }

  model_entry from_text(const std::string& name, const std::string& text) {
    model_entry entry;
    entry.name = name;
    entry.directory = repository.path() / name;
    auto parsed = parse_model_config(text, name + "/config.pbtxt");
    EXPECT_TRUE(parsed.config) << parsed.error;
    auto completed = complete_model_config(std::move(*parsed.config), name, name + "/config.pbtxt");
    EXPECT_TRUE(completed.config) << completed.error;
    entry.config = std::move(completed.config);
    entry.versions = {1};
    return entry;
  }

  // IN -> step models in order (INPUT0 -> OUTPUT0 each) -> OUT.
  model_entry chain(const std::string& name, const std::vector<std::string>& models) {
    std::string steps;
    for (std::size_t i = 0; i < models.size(); ++i) {
      const auto in = i == 0 ? std::string("IN") : "t" + std::to_string(i);
      const auto out = i + 1 == models.size() ? std::string("OUT") : "t" + std::to_string(i + 1);
      steps += "step { model_name: \"" + models[i] + "\" model_version: -1 input_map { key: \"INPUT0\" value: \"" +
               in + "\" } output_map { key: \"OUTPUT0\" value: \"" + out + "\" } }\n";
    }
    return from_text(name, "name: \"" + name + "\" platform: \"ensemble\" max_batch_size: 8\n"
                           "input [ { name: \"IN\" data_type: TYPE_FP32 dims: [ 4 ] } ]\n"
                           "output [ { name: \"OUT\" data_type: TYPE_FP32 dims: [ 4 ] } ]\n"
                           "ensemble_scheduling {\n" + steps + "}\n");
  }

  made_request ensemble_request(const std::string& model, float first = 0.0f) {
    auto made = request(model);
    made.request->inputs[0].name = "IN";
    std::memcpy(mutable_data(made.request->inputs[0]), &first, sizeof first);
    return made;
  }

  std::shared_ptr<model_version> submit(made_request& made) {
    auto version = registry.find_version(made.request->model, std::nullopt);
    EXPECT_TRUE(version);
    if (version) version->submit(std::move(made.request));
    return version;
  }
};

float first_value(const tensor& t) {
  float value = 0;
  std::memcpy(&value, t.data.data(), sizeof value);
  return value;
}

TEST(ensemble_execution, a_chain_passes_the_tensor_through_every_step_without_copying_it) {
  ensemble_fixture f;
  ASSERT_THAT(f.registry.load({f.entry("first", "test_kind"), f.entry("second", "test_kind"),
                               f.chain("pipe", {"first", "second"})}),
              IsEmpty());
  auto made = f.ensemble_request("pipe", 5.0f);
  const auto* input_bytes = made.request->inputs[0].data.data();
  f.submit(made);
  ASSERT_TRUE(made.sink->wait_finished());
  ASSERT_FALSE(made.sink->failure) << made.sink->failure->message;
  ASSERT_EQ(made.sink->responses.size(), 1u);
  const auto& out = made.sink->responses[0].outputs.at(0);
  EXPECT_EQ(out.name, "OUT");
  EXPECT_EQ(out.shape, (std::vector<std::int64_t>{1, 4}));
  // test_kind answers with its input tensor itself: the bytes the client
  // sent reach the ensemble's output through both steps unchanged.
  EXPECT_EQ(out.data.data(), input_bytes);

  const auto text = f.metrics.render();
  EXPECT_THAT(text, HasSubstr("surge_requests_total{model=\"pipe\",version=\"1\",outcome=\"success\"} 1"));
  EXPECT_THAT(text, HasSubstr("surge_requests_total{model=\"first\",version=\"1\",outcome=\"success\"} 1"));
  EXPECT_THAT(text, HasSubstr("surge_requests_total{model=\"second\",version=\"1\",outcome=\"success\"} 1"));
  EXPECT_THAT(text, HasSubstr("surge_ensemble_step_duration_seconds_count{model=\"pipe\",version=\"1\",step=\"2\","
                              "step_model=\"second\"} 1"));
}

TEST(ensemble_execution, a_step_waits_for_every_step_it_reads_from) {
  ensemble_fixture f;
  const auto pair = f.from_text("pair", R"pb(name: "pair" backend: "identity" max_batch_size: 8
input [ { name: "INPUT0" data_type: TYPE_FP32 dims: [ 4 ] }, { name: "INPUT1" data_type: TYPE_FP32 dims: [ 4 ] } ]
output [ { name: "OUTPUT0" data_type: TYPE_FP32 dims: [ 4 ] }, { name: "OUTPUT1" data_type: TYPE_FP32 dims: [ 4 ] } ]
)pb");
  // IN feeds a and b; pair joins what they wrote into two outputs.
  const auto diamond = f.from_text("diamond", R"pb(name: "diamond" platform: "ensemble" max_batch_size: 8
input [ { name: "IN" data_type: TYPE_FP32 dims: [ 4 ] } ]
output [ { name: "LEFT" data_type: TYPE_FP32 dims: [ 4 ] },
         { name: "RIGHT" data_type: TYPE_FP32 dims: [ 4 ] } ]
ensemble_scheduling {
  step { model_name: "pair" model_version: -1
         input_map { key: "INPUT0" value: "x" } input_map { key: "INPUT1" value: "y" }
         output_map { key: "OUTPUT0" value: "LEFT" } output_map { key: "OUTPUT1" value: "RIGHT" } }
  step { model_name: "a" model_version: -1
         input_map { key: "INPUT0" value: "IN" } output_map { key: "OUTPUT0" value: "x" } }
  step { model_name: "b" model_version: 1
         input_map { key: "INPUT0" value: "IN" } output_map { key: "OUTPUT0" value: "y" } }
}
)pb");
  ASSERT_THAT(f.registry.load({f.entry("a", "identity"), f.entry("b", "identity"), pair, diamond}), IsEmpty());
  auto made = f.ensemble_request("diamond", 3.0f);
  f.submit(made);
  ASSERT_TRUE(made.sink->wait_finished());
  ASSERT_FALSE(made.sink->failure) << made.sink->failure->message;
  const auto& outputs = made.sink->responses.at(0).outputs;
  ASSERT_EQ(outputs.size(), 2u);
  EXPECT_EQ(outputs[0].name, "LEFT");
  EXPECT_EQ(outputs[1].name, "RIGHT");
  EXPECT_EQ(first_value(outputs[0]), 3.0f);
  EXPECT_EQ(first_value(outputs[1]), 3.0f);
}

TEST(ensemble_execution, a_failing_step_fails_the_request_naming_the_step_and_keeps_its_code) {
  ensemble_fixture f;
  ASSERT_THAT(f.registry.load({f.entry("ok", "identity"),
                               f.entry("picky", "identity",
                                       "parameters { key: \"fail_on_value\" value { string_value: \"7\" } }\n"),
                               f.chain("pipe", {"ok", "picky"})}),
              IsEmpty());
  auto bad = f.ensemble_request("pipe", 7.0f);
  f.submit(bad);
  ASSERT_TRUE(bad.sink->wait_finished());
  ASSERT_TRUE(bad.sink->failure);
  EXPECT_EQ(bad.sink->failure->code, error_code::internal);
  EXPECT_THAT(bad.sink->failure->message, StartsWith("ensemble 'pipe' step 2 ('picky'): "));
  EXPECT_THAT(bad.sink->failure->message, HasSubstr("fail_on_value"));
  EXPECT_THAT(f.metrics.render(), HasSubstr("surge_ensemble_step_failures_total{model=\"pipe\",version=\"1\","
                                            "step=\"2\",step_model=\"picky\"} 1"));

  auto good = f.ensemble_request("pipe", 1.0f);
  f.submit(good);
  ASSERT_TRUE(good.sink->wait_finished());
  EXPECT_FALSE(good.sink->failure);
}

TEST(ensemble_execution, an_invalid_request_is_refused_by_the_ensemble_before_any_step) {
  ensemble_fixture f;
  ASSERT_THAT(f.registry.load({f.entry("ok", "identity"), f.chain("pipe", {"ok"})}), IsEmpty());
  auto made = f.request("pipe");  // its input is INPUT0, the ensemble's is IN
  f.submit(made);
  ASSERT_TRUE(made.sink->wait_finished());
  ASSERT_TRUE(made.sink->failure);
  EXPECT_EQ(made.sink->failure->code, error_code::invalid_argument);
  const auto text = f.metrics.render();
  EXPECT_THAT(text, HasSubstr("surge_requests_total{model=\"pipe\",version=\"1\",outcome=\"invalid\"} 1"));
  EXPECT_THAT(text, HasSubstr("surge_requests_total{model=\"ok\",version=\"1\",outcome=\"invalid\"} 0"));
  EXPECT_THAT(text, HasSubstr("surge_requests_total{model=\"ok\",version=\"1\",outcome=\"success\"} 0"));
}

TEST(ensemble_execution, cancelling_the_request_drops_its_queued_step_and_starts_no_further_step) {
  ensemble_fixture f;
  ASSERT_THAT(f.registry.load({f.entry("held", "test_kind"), f.entry("after", "test_kind"),
                               f.chain("pipe", {"held", "after"})}),
              IsEmpty());
  f.gate->close();
  auto running = f.ensemble_request("pipe", 1.0f);
  f.submit(running);
  ASSERT_TRUE(f.gate->wait_for_waiting(1));  // its first step holds held's only instance
  auto queued = f.ensemble_request("pipe", 2.0f);
  const auto queued_token = queued.request->cancellation;
  f.submit(queued);
  queued_token->cancel();
  f.gate->open();

  ASSERT_TRUE(queued.sink->wait_finished());
  ASSERT_TRUE(queued.sink->failure);
  EXPECT_EQ(queued.sink->failure->code, error_code::cancelled);
  EXPECT_THAT(queued.sink->failure->message, StartsWith("ensemble 'pipe' step 1 ('held'): "));
  ASSERT_TRUE(running.sink->wait_finished());
  EXPECT_FALSE(running.sink->failure);
  // The cancelled request's step never ran, and its second step never started.
  const auto text = f.metrics.render();
  EXPECT_THAT(text, HasSubstr("surge_requests_total{model=\"held\",version=\"1\",outcome=\"cancelled\"} 1"));
  EXPECT_THAT(text, HasSubstr("surge_requests_total{model=\"after\",version=\"1\",outcome=\"success\"} 1"));
  EXPECT_THAT(text, HasSubstr("surge_requests_total{model=\"after\",version=\"1\",outcome=\"cancelled\"} 0"));
}

TEST(ensemble_execution, an_ensemble_over_a_missing_model_fails_its_own_load_and_the_rest_serve) {
  ensemble_fixture f;
  const auto failures = f.registry.load({f.entry("ok", "identity"), f.chain("pipe", {"ok", "missing"})});
  ASSERT_EQ(failures.size(), 1u);
  EXPECT_EQ(failures[0].model, "pipe");
  EXPECT_EQ(failures[0].error, "depends on model 'missing', which is not loaded");
  EXPECT_TRUE(f.registry.find_version("ok", std::nullopt));
  EXPECT_FALSE(f.registry.find_version("pipe", std::nullopt));
}

TEST(ensemble_execution, an_ensemble_checked_against_served_models_reports_the_step_and_tensor) {
  ensemble_fixture f;
  ASSERT_THAT(f.registry.load({f.entry("narrow", "identity", "", {1}, 2)}), IsEmpty());
  const auto failures = f.registry.load({f.chain("pipe", {"narrow"})});
  ASSERT_EQ(failures.size(), 1u);
  EXPECT_EQ(failures[0].error, "version 1: ensemble 'pipe' step 1 ('narrow'): the model's max_batch_size 2 is below "
                               "the ensemble's 8");
}

TEST(ensemble_execution, a_draining_ensemble_waits_for_its_runs_and_then_refuses) {
  ensemble_fixture f;
  ASSERT_THAT(f.registry.load({f.entry("held", "test_kind"), f.chain("pipe", {"held"})}), IsEmpty());
  f.gate->close();
  auto running = f.ensemble_request("pipe");
  auto version = f.submit(running);
  ASSERT_TRUE(f.gate->wait_for_waiting(1));
  std::promise<void> drained;
  version->drain(clock::now() + std::chrono::seconds(30), [&drained] { drained.set_value(); });
  auto late = f.ensemble_request("pipe");
  version->submit(std::move(late.request));
  ASSERT_TRUE(late.sink->wait_finished());
  EXPECT_EQ(late.sink->failure->code, error_code::not_ready);
  auto done = drained.get_future();
  f.gate->open();
  ASSERT_EQ(done.wait_for(wait_limit), std::future_status::ready);
  ASSERT_TRUE(running.sink->wait_finished());
  EXPECT_FALSE(running.sink->failure);
  version->retire();
}

}  // namespace
}  // namespace surge::testing
