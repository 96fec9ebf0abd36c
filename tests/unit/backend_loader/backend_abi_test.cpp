// The server's side of backend ABI 2, driven with a real backend library
// (tests/unit/backends/test_backend.cpp) whose requests each behave as their
// parameters say.
#include <gtest/gtest.h>

#include <cstdio>
#include <memory>
#include <string>

#include "backend_loader/backend_instance.hpp"
#include "support/backend_test_support.hpp"
#include "metrics/registry.hpp"
#include "support/test_backend_control.hpp"

namespace surge {
namespace {

using testing::execute_batch;
using testing::make_input;
using testing::message_of;
using testing::outputs_of;
using testing::request_of;
using testing::values_of;

tensor row(float value, std::int64_t rows = 1) {
  return make_input<float>("INPUT0", data_type::fp32, {rows, 2},
                           std::vector<float>(static_cast<std::size_t>(rows * 2), value));
}

class backend_abi_test : public ::testing::Test {
 protected:
  void SetUp() override {
    auto loaded = backend_library::load(control_.directory(), "test");
    ASSERT_TRUE(std::holds_alternative<std::shared_ptr<backend_library>>(loaded)) << std::get<error>(loaded).message;
    library_ = std::get<std::shared_ptr<backend_library>>(std::move(loaded));
  }

  std::shared_ptr<backend_model> model(backend_model_spec spec) {
    auto created = backend_model::create(library_, std::move(spec));
    EXPECT_TRUE(std::holds_alternative<std::shared_ptr<backend_model>>(created)) << std::get<error>(created).message;
    return std::holds_alternative<std::shared_ptr<backend_model>>(created)
               ? std::get<std::shared_ptr<backend_model>>(std::move(created))
               : nullptr;
  }

  backend_instance_handle instance(backend_model_spec spec) {
    auto handle = backend_instance_handle::create(model(std::move(spec)), 0);
    EXPECT_TRUE(std::holds_alternative<backend_instance_handle>(handle));
    return std::get<backend_instance_handle>(std::move(handle));
  }

  testing::test_backend_control control_;
  std::shared_ptr<backend_library> library_;
};

TEST_F(backend_abi_test, initialize_runs_once_before_the_first_model_and_finalize_after_the_last) {
  EXPECT_EQ(control_.counter("initialized"), 1);
  auto again = backend_library::load(control_.directory(), "test");
  ASSERT_TRUE(std::holds_alternative<std::shared_ptr<backend_library>>(again));
  EXPECT_EQ(std::get<std::shared_ptr<backend_library>>(again), library_) << "one library object per file";
  EXPECT_EQ(control_.counter("initialized"), 1);

  // surge_model_create checks that initialize left its backend state.
  auto first = model(testing::test_backend_spec());
  auto second = model(testing::test_backend_spec());
  library_.reset();
  again = error{};
  first.reset();
  EXPECT_EQ(control_.counter("finalized"), 0) << "a model still holds the library";
  second.reset();
  EXPECT_EQ(control_.counter("finalized"), 1);
  EXPECT_EQ(control_.counter("initialized"), 1);
}

TEST_F(backend_abi_test, one_failing_request_of_a_batch_leaves_the_others_alone) {
  auto handle = instance(testing::test_backend_spec());
  std::vector<request_ptr> batch;
  batch.push_back(request_of("a", {row(1)}).request);
  batch.push_back(request_of("b", {row(2)}, {{"fail", "row b is bad"}}).request);
  batch.push_back(request_of("c", {row(3, 2)}).request);
  bool failed = true;
  auto results = execute_batch(handle, batch, &failed);
  EXPECT_FALSE(failed);
  EXPECT_EQ(control_.counter("executes"), 1);
  ASSERT_TRUE(outputs_of(results[0])) << message_of(results[0]);
  EXPECT_EQ(values_of<float>(outputs_of(results[0])->at(0)), (std::vector<float>{1, 1}));
  ASSERT_TRUE(std::holds_alternative<error>(results[1]));
  EXPECT_EQ(std::get<error>(results[1]).code, error_code::invalid_argument);
  EXPECT_EQ(std::get<error>(results[1]).message, "row b is bad");
  ASSERT_TRUE(outputs_of(results[2])) << message_of(results[2]);
  EXPECT_EQ(outputs_of(results[2])->at(0).shape, (std::vector<std::int64_t>{2, 2}));
}

TEST_F(backend_abi_test, a_request_the_backend_forgets_gets_an_internal_error_naming_the_backend) {
  auto handle = instance(testing::test_backend_spec());
  std::vector<request_ptr> batch;
  batch.push_back(request_of("kept", {row(1)}).request);
  batch.push_back(request_of("forgotten", {row(2)}, {{"forget", "true"}}).request);
  auto results = execute_batch(handle, batch);
  EXPECT_TRUE(outputs_of(results[0]));
  ASSERT_TRUE(std::holds_alternative<error>(results[1]));
  EXPECT_EQ(std::get<error>(results[1]).code, error_code::internal);
  EXPECT_NE(message_of(results[1]).find("backend 'test'"), std::string::npos) << message_of(results[1]);
  EXPECT_NE(message_of(results[1]).find("'forgotten'"), std::string::npos) << message_of(results[1]);
}

TEST_F(backend_abi_test, an_error_from_execute_fails_the_requests_not_yet_answered) {
  auto handle = instance(testing::test_backend_spec());
  std::vector<request_ptr> batch;
  batch.push_back(request_of("answered", {row(1)}).request);
  batch.push_back(request_of("gives_up", {row(2)}, {{"fail_batch", "out of patience"}}).request);
  batch.push_back(request_of("never_reached", {row(3)}).request);
  bool failed = false;
  auto results = execute_batch(handle, batch, &failed);
  EXPECT_TRUE(failed);
  EXPECT_TRUE(outputs_of(results[0])) << message_of(results[0]);
  for (std::size_t i : {1u, 2u}) {
    ASSERT_TRUE(std::holds_alternative<error>(results[i]));
    EXPECT_EQ(std::get<error>(results[i]).code, error_code::internal);
    EXPECT_EQ(message_of(results[i]), "out of patience");
  }
}

TEST_F(backend_abi_test, outputs_that_contradict_the_model_are_refused_naming_them) {
  auto handle = instance(testing::test_backend_spec());
  const std::pair<const char*, const char*> cases[] = {
      {"unknown", "'NO_SUCH_OUTPUT', which the model does not declare"},
      {"twice", "'OUTPUT0' a second time"},
      {"type", "'OUTPUT0': it is INT32, the model declares FP32"},
      {"dims", "'OUTPUT0': its shape [1, 2, 1, 1] does not match"},
      {"size", "'OUTPUT0': shape [1, 2] asked for 12 bytes, needs 8"},
  };
  for (const auto& [how, expected] : cases) {
    std::vector<request_ptr> batch;
    batch.push_back(request_of(how, {row(1)}, {{"refuse", how}}).request);
    batch.push_back(request_of("fine", {row(2)}).request);
    auto results = execute_batch(handle, batch);
    ASSERT_TRUE(std::holds_alternative<error>(results[0])) << how;
    EXPECT_EQ(std::get<error>(results[0]).code, error_code::internal) << how;
    EXPECT_NE(message_of(results[0]).find(expected), std::string::npos) << how << ": " << message_of(results[0]);
    EXPECT_NE(message_of(results[0]).find("backend 'test'"), std::string::npos) << message_of(results[0]);
    EXPECT_TRUE(outputs_of(results[1])) << how;
  }
}

TEST_F(backend_abi_test, the_client_gets_the_outputs_it_asked_for) {
  auto spec = testing::test_backend_spec();
  spec.outputs.push_back({"UNUSED", data_type::fp32, {-1}});
  auto handle = instance(spec);
  std::vector<request_ptr> batch;
  auto asks = request_of("asks", {row(1)});
  asks.request->requested_outputs = {"OUTPUT0"};
  batch.push_back(std::move(asks.request));
  batch.push_back(request_of("wants_all", {row(2)}).request);
  auto results = execute_batch(handle, batch);
  ASSERT_TRUE(outputs_of(results[0])) << message_of(results[0]);
  EXPECT_EQ(outputs_of(results[0])->size(), 1u);
  // Naming none means every declared output, and the backend made only one.
  ASSERT_TRUE(std::holds_alternative<error>(results[1]));
  EXPECT_NE(message_of(results[1]).find("returned no output 'UNUSED'"), std::string::npos) << message_of(results[1]);
}

TEST_F(backend_abi_test, a_decoupled_model_answers_after_execute_returns) {
  auto handle = instance(testing::test_backend_spec({{"decoupled", "true"}}, true));
  auto streamed = request_of("streamed", {row(4)}, {{"responses", "3"}});
  auto sink = streamed.sink;
  std::vector<request_ptr> batch;
  batch.push_back(std::move(streamed.request));
  batch_outcome outcome;
  handle.execute(batch, outcome);
  EXPECT_EQ(batch[0], nullptr) << "a decoupled request is taken over";
  EXPECT_TRUE(std::holds_alternative<std::monostate>(outcome.answers[0]));
  EXPECT_EQ(sink->finish_count, 0) << "nothing is sent before the test releases the backend";

  control_.release();
  ASSERT_TRUE(sink->wait_finished());
  EXPECT_FALSE(sink->failure);
  ASSERT_EQ(sink->responses.size(), 3u);
  EXPECT_EQ(values_of<float>(sink->responses[2].outputs.at(0)), (std::vector<float>{4, 4}));
}

TEST_F(backend_abi_test, decoupled_requests_open_when_the_instance_goes_are_answered_by_the_server) {
  auto sink = std::make_shared<testing::recording_sink>();
  {
    auto handle = instance(testing::test_backend_spec({{"decoupled", "true"}}, true));
    auto abandoned = request_of("abandoned", {row(1)}, {{"abandon", "true"}});
    sink = abandoned.sink;
    std::vector<request_ptr> batch;
    batch.push_back(std::move(abandoned.request));
    batch_outcome outcome;
    handle.execute(batch, outcome);
    EXPECT_EQ(sink->finish_count, 0);
  }
  ASSERT_EQ(sink->finish_count, 1);
  ASSERT_TRUE(sink->failure);
  EXPECT_EQ(sink->failure->code, error_code::internal);
  EXPECT_NE(sink->failure->message.find("deleted its instance before answering request 'abandoned'"),
            std::string::npos)
      << sink->failure->message;
}

TEST_F(backend_abi_test, an_error_from_a_decoupled_execute_answers_its_open_requests) {
  auto handle = instance(testing::test_backend_spec({{"decoupled", "true"}}, true));
  auto failing = request_of("failing", {row(1)}, {{"fail_batch", "no stream today"}});
  auto sink = failing.sink;
  std::vector<request_ptr> batch;
  batch.push_back(std::move(failing.request));
  batch_outcome outcome;
  handle.execute(batch, outcome);
  EXPECT_TRUE(outcome.failed);
  ASSERT_EQ(sink->finish_count, 1);
  EXPECT_EQ(sink->failure->message, "no stream today");
}

TEST_F(backend_abi_test, a_decoupled_backend_needs_a_decoupled_config) {
  auto created = backend_model::create(library_, testing::test_backend_spec({{"decoupled", "true"}}, false));
  ASSERT_TRUE(std::holds_alternative<error>(created));
  EXPECT_NE(std::get<error>(created).message.find("model_transaction_policy { decoupled: true }"), std::string::npos)
      << std::get<error>(created).message;
}

TEST_F(backend_abi_test, capabilities_are_kept_on_the_model) {
  auto plain = model(testing::test_backend_spec());
  EXPECT_EQ(plain->capabilities(), 0u);
  auto decoupled = model(testing::test_backend_spec({{"decoupled", "true"}}, true));
  EXPECT_TRUE(decoupled->decoupled());
  EXPECT_FALSE(decoupled->short_execute());
}

TEST_F(backend_abi_test, backend_statistics_render_in_metrics_until_the_model_goes) {
  metrics::registry registry;
  auto m = model(testing::test_backend_spec());
  m->publish_statistics(registry);
  {
    auto handle = backend_instance_handle::create(m, 0);
    ASSERT_TRUE(std::holds_alternative<backend_instance_handle>(handle));
    std::vector<request_ptr> batch;
    batch.push_back(request_of("a", {row(1)}).request);
    batch.push_back(request_of("b", {row(1)}).request);
    execute_batch(std::get<backend_instance_handle>(handle), batch);
  }
  auto values = m->statistics();
  ASSERT_TRUE((std::holds_alternative<std::vector<std::pair<std::string, double>>>(values)));
  using named_values = std::vector<std::pair<std::string, double>>;
  const named_values expected = {{"executes", 1}, {"requests", 2}};
  EXPECT_EQ(std::get<named_values>(values), expected);
  const auto text = registry.render();
  EXPECT_NE(text.find("# TYPE surge_backend_statistic gauge"), std::string::npos) << text;
  EXPECT_NE(text.find("surge_backend_statistic{model=\"m\",version=\"1\",name=\"requests\"} 2"), std::string::npos)
      << text;
  m.reset();
  EXPECT_EQ(registry.render().find("surge_backend_statistic"), std::string::npos);
}

TEST_F(backend_abi_test, autocomplete_adds_what_the_config_leaves_out_and_never_overrides_it) {
  backend_model_spec spec = testing::test_backend_spec({{"autocomplete_max_batch_size", "16"}});
  spec.inputs.clear();
  spec.outputs = {{"OUTPUT0", data_type::int32, {3}}};
  spec.max_batch_size = 0;
  ASSERT_FALSE(autocomplete(library_, spec));
  ASSERT_EQ(spec.inputs.size(), 1u);
  EXPECT_EQ(spec.inputs[0].name, "INPUT0");
  EXPECT_EQ(spec.inputs[0].dims, (std::vector<std::int64_t>{-1}));
  ASSERT_EQ(spec.outputs.size(), 1u);
  EXPECT_EQ(spec.outputs[0].type, data_type::int32) << "the config's output stays as declared";
  EXPECT_EQ(spec.max_batch_size, 16u);
}

// ---- libraries the loader refuses -------------------------------------------------

std::string load_failure(std::string_view name) {
  auto loaded = backend_library::load(SURGE_TEST_BACKEND_DIR, name);
  if (std::holds_alternative<error>(loaded)) return std::get<error>(loaded).message;
  return "(loaded)";
}

TEST(backend_version_test, a_library_built_for_another_major_is_refused_saying_both_versions) {
  const auto message = load_failure("major1");
  EXPECT_NE(message.find("built for backend API 1.1, but this server implements 2.0"), std::string::npos) << message;
  EXPECT_NE(message.find("the major version must match"), std::string::npos) << message;
}

TEST(backend_version_test, a_library_built_for_a_newer_minor_is_refused) {
  const auto message = load_failure("newer_minor");
  EXPECT_NE(message.find("built for backend API 2.99"), std::string::npos) << message;
}

TEST(backend_version_test, a_library_calling_a_server_function_this_server_lacks_fails_to_load_naming_it) {
  const auto message = load_failure("newer_function");
  EXPECT_NE(message.find("surge_request_future_accessor"), std::string::npos) << message;
  EXPECT_NE(message.find("built for a newer minor version"), std::string::npos) << message;
}

TEST(backend_version_test, a_library_missing_a_required_export_is_refused_naming_it) {
  const auto message = load_failure("no_execute");
  EXPECT_NE(message.find("does not export 'surge_instance_execute'"), std::string::npos) << message;
}

TEST(backend_version_test, a_host_that_does_not_export_the_server_api_cannot_load_backends) {
  const std::string command = std::string(SURGE_HOST_WITHOUT_EXPORTS) + " " + SURGE_BACKEND_DIR + " 2>&1";
  std::unique_ptr<FILE, int (*)(FILE*)> pipe(popen(command.c_str(), "r"), pclose);
  ASSERT_TRUE(pipe);
  std::string output;
  char buffer[512];
  while (std::fgets(buffer, sizeof buffer, pipe.get()) != nullptr) output += buffer;
  EXPECT_NE(output.find("refused: backend 'identity': cannot load"), std::string::npos) << output;
  EXPECT_NE(output.find("does not export the surge server API"), std::string::npos) << output;
  EXPECT_NE(output.find("ENABLE_EXPORTS"), std::string::npos) << output;
  // And a backend really does leave the server's functions to the host.
  EXPECT_NE(output.find("dlopen: "), std::string::npos) << output;
  EXPECT_NE(output.find("undefined symbol: surge_"), std::string::npos) << output;
}

}  // namespace
}  // namespace surge
