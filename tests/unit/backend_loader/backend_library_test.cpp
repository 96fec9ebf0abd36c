// The identity backend through the loader: what every backend relies on.
#include "backend_loader/backend_instance.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <dlfcn.h>
#include <thread>

#include "support/backend_test_support.hpp"

namespace surge {
namespace {

using testing::execute_batch;
using testing::execute_one;
using testing::make_input;
using testing::message_of;
using testing::outputs_of;
using testing::values_of;

backend_model_spec identity_spec(std::vector<std::pair<std::string, std::string>> parameters = {}) {
  backend_model_spec spec;
  spec.model_name = "identity_test";
  spec.version = 1;
  spec.version_directory = "/nonexistent/identity_test/1";
  spec.max_batch_size = 8;
  spec.inputs = {{"INPUT0", data_type::fp32, {-1}}, {"INPUT1", data_type::int32, {2}}};
  spec.outputs = {{"OUTPUT0", data_type::fp32, {-1}}, {"OUTPUT1", data_type::int32, {2}}};
  spec.parameters = std::move(parameters);
  return spec;
}

std::vector<tensor> identity_inputs(float marker = 1.5f) {
  return {make_input<float>("INPUT0", data_type::fp32, {2, 3}, {marker, 2, 3, 4, 5, 6}),
          make_input<std::int32_t>("INPUT1", data_type::int32, {2, 2}, {10, 20, 30, 40})};
}

class identity_backend_test : public ::testing::Test {
 protected:
  void SetUp() override {
    auto loaded = backend_library::load(SURGE_BACKEND_DIR, "identity");
    ASSERT_TRUE(std::holds_alternative<std::shared_ptr<backend_library>>(loaded))
        << std::get<error>(loaded).message;
    library_ = std::get<std::shared_ptr<backend_library>>(std::move(loaded));
  }

  std::variant<std::shared_ptr<backend_model>, error> create(backend_model_spec spec) {
    return backend_model::create(library_, std::move(spec));
  }

  backend_instance_handle instance(const backend_model_spec& spec, std::uint32_t index = 0) {
    auto model = create(spec);
    EXPECT_TRUE(std::holds_alternative<std::shared_ptr<backend_model>>(model)) << std::get<error>(model).message;
    auto handle = backend_instance_handle::create(std::get<std::shared_ptr<backend_model>>(std::move(model)), index);
    EXPECT_TRUE(std::holds_alternative<backend_instance_handle>(handle)) << std::get<error>(handle).message;
    return std::get<backend_instance_handle>(std::move(handle));
  }

  std::shared_ptr<backend_library> library_;
};

TEST_F(identity_backend_test, reports_the_servers_api_version) {
  EXPECT_EQ(library_->api_version(), std::make_pair(std::uint32_t{SURGE_BACKEND_API_MAJOR},
                                                    std::uint32_t{SURGE_BACKEND_API_MINOR}));
  EXPECT_EQ(library_->name(), "identity");
}

TEST_F(identity_backend_test, outputs_equal_inputs) {
  auto handle = instance(identity_spec());
  const auto inputs = identity_inputs();
  auto result = execute_one(handle, inputs);
  ASSERT_TRUE(outputs_of(result)) << message_of(result);
  const auto& outputs = *outputs_of(result);
  ASSERT_EQ(outputs.size(), 2u);
  EXPECT_EQ(outputs[0].name, "OUTPUT0");
  EXPECT_EQ(outputs[0].type, data_type::fp32);
  EXPECT_EQ(outputs[0].shape, inputs[0].shape);
  EXPECT_EQ(values_of<float>(outputs[0]), values_of<float>(inputs[0]));
  EXPECT_EQ(outputs[1].name, "OUTPUT1");
  EXPECT_EQ(outputs[1].shape, inputs[1].shape);
  EXPECT_EQ(values_of<std::int32_t>(outputs[1]), values_of<std::int32_t>(inputs[1]));
  // Outputs own their buffers: they are not views of the inputs.
  EXPECT_NE(outputs[0].data.data(), inputs[0].data.data());
}

TEST_F(identity_backend_test, inputs_are_matched_by_name_not_position) {
  auto handle = instance(identity_spec());
  auto inputs = identity_inputs();
  std::swap(inputs[0], inputs[1]);
  auto result = execute_one(handle, inputs);
  ASSERT_TRUE(outputs_of(result)) << message_of(result);
  EXPECT_EQ(values_of<float>((*outputs_of(result))[0]), values_of<float>(inputs[1]));
}

TEST_F(identity_backend_test, fail_on_value_fails_only_the_request_that_holds_it) {
  auto handle = instance(identity_spec({{"fail_on_value", "7"}}));
  std::vector<request_ptr> batch;
  batch.push_back(testing::request_of("before", identity_inputs(1.5f)).request);
  batch.push_back(testing::request_of("poisoned", identity_inputs(7.0f)).request);
  batch.push_back(testing::request_of("after", identity_inputs(2.5f)).request);
  bool batch_failed = true;
  auto results = execute_batch(handle, batch, &batch_failed);
  EXPECT_FALSE(batch_failed);
  ASSERT_EQ(results.size(), 3u);
  ASSERT_TRUE(outputs_of(results[0])) << message_of(results[0]);
  EXPECT_EQ(values_of<float>((*outputs_of(results[2]))[0])[0], 2.5f);
  const auto* failed = std::get_if<error>(&results[1]);
  ASSERT_TRUE(failed);
  EXPECT_EQ(failed->code, error_code::internal);
  EXPECT_NE(failed->message.find("injected failure"), std::string::npos) << failed->message;
  EXPECT_NE(failed->message.find("'poisoned'"), std::string::npos) << failed->message;
  EXPECT_NE(failed->message.find("contains 7"), std::string::npos) << failed->message;
}

TEST_F(identity_backend_test, fail_every_n_batches_fails_whole_batches) {
  auto handle = instance(identity_spec({{"fail_every_n_batches", "3"}}));
  std::vector<bool> succeeded;
  for (int i = 0; i < 6; ++i) {
    std::vector<request_ptr> batch;
    for (int r = 0; r < 2; ++r) batch.push_back(testing::request_of("r", identity_inputs()).request);
    bool failed = false;
    auto results = execute_batch(handle, batch, &failed);
    EXPECT_EQ(failed, !outputs_of(results[0]) && !outputs_of(results[1]));
    succeeded.push_back(!failed);
  }
  EXPECT_EQ(succeeded, (std::vector<bool>{true, true, false, true, true, false}));
}

TEST_F(identity_backend_test, execute_delay_holds_the_batch) {
  auto handle = instance(identity_spec({{"execute_delay_us", "20000"}}));
  const auto start = std::chrono::steady_clock::now();
  ASSERT_TRUE(outputs_of(execute_one(handle, identity_inputs())));
  EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(20));
}

TEST_F(identity_backend_test, unknown_parameter_fails_load_naming_it) {
  auto model = create(identity_spec({{"execute_delay_us", "5"}, {"exceute_delay", "5"}}));
  ASSERT_TRUE(std::holds_alternative<error>(model));
  EXPECT_NE(std::get<error>(model).message.find("'exceute_delay'"), std::string::npos) << std::get<error>(model).message;
  EXPECT_NE(std::get<error>(model).message.find("identity_test"), std::string::npos) << std::get<error>(model).message;
}

TEST_F(identity_backend_test, malformed_parameter_value_names_the_parameter) {
  auto model = create(identity_spec({{"execute_delay_us", "soon"}}));
  ASSERT_TRUE(std::holds_alternative<error>(model));
  EXPECT_NE(std::get<error>(model).message.find("execute_delay_us"), std::string::npos) << std::get<error>(model).message;
}

TEST_F(identity_backend_test, mismatched_output_type_names_the_tensor) {
  auto spec = identity_spec();
  spec.outputs[1].type = data_type::fp32;
  auto model = create(spec);
  ASSERT_TRUE(std::holds_alternative<error>(model));
  EXPECT_NE(std::get<error>(model).message.find("'OUTPUT1'"), std::string::npos) << std::get<error>(model).message;
}

TEST_F(identity_backend_test, missing_input_is_invalid_argument) {
  auto handle = instance(identity_spec());
  auto inputs = identity_inputs();
  inputs.pop_back();
  auto result = execute_one(handle, inputs);
  ASSERT_TRUE(std::holds_alternative<error>(result));
  EXPECT_EQ(std::get<error>(result).code, error_code::invalid_argument);
  EXPECT_NE(message_of(result).find("'INPUT1'"), std::string::npos) << message_of(result);
}

TEST_F(identity_backend_test, server_refuses_outputs_that_contradict_the_declared_dims) {
  auto handle = instance(identity_spec());
  auto inputs = identity_inputs();
  inputs[1] = make_input<std::int32_t>("INPUT1", data_type::int32, {1, 3}, {1, 2, 3});
  auto result = execute_one(handle, inputs);
  ASSERT_TRUE(std::holds_alternative<error>(result));
  EXPECT_NE(message_of(result).find("'OUTPUT1'"), std::string::npos) << message_of(result);
}

TEST_F(identity_backend_test, instances_keep_model_and_library_alive) {
  auto model = create(identity_spec());
  ASSERT_TRUE(std::holds_alternative<std::shared_ptr<backend_model>>(model));
  auto handle = backend_instance_handle::create(std::get<std::shared_ptr<backend_model>>(std::move(model)), 0);
  ASSERT_TRUE(std::holds_alternative<backend_instance_handle>(handle));
  library_.reset();
  auto moved = std::get<backend_instance_handle>(std::move(handle));
  EXPECT_TRUE(outputs_of(execute_one(moved, identity_inputs())));
}

TEST_F(identity_backend_test, instances_execute_concurrently) {
  auto model = create(identity_spec());
  ASSERT_TRUE(std::holds_alternative<std::shared_ptr<backend_model>>(model));
  const auto shared = std::get<std::shared_ptr<backend_model>>(model);
  std::vector<std::thread> threads;
  std::vector<int> successes(2, 0);
  for (std::uint32_t i = 0; i < 2; ++i) {
    auto handle = backend_instance_handle::create(shared, i);
    ASSERT_TRUE(std::holds_alternative<backend_instance_handle>(handle));
    threads.emplace_back([&successes, i, h = std::get<backend_instance_handle>(std::move(handle))]() mutable {
      for (int n = 0; n < 200; ++n) successes[i] += outputs_of(execute_one(h, identity_inputs())) != nullptr;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(successes, (std::vector<int>{200, 200}));
}

TEST(backend_library_test, missing_library_is_not_found_with_its_path) {
  auto loaded = backend_library::load(SURGE_BACKEND_DIR, "no_such_backend");
  ASSERT_TRUE(std::holds_alternative<error>(loaded));
  const auto& e = std::get<error>(loaded);
  EXPECT_EQ(e.code, error_code::not_found);
  EXPECT_NE(e.message.find("libsurge_backend_no_such_backend.so"), std::string::npos) << e.message;
}

TEST(backend_library_test, library_without_the_abi_names_the_version_function) {
  // The C library is loaded in every process and exports none of the ABI.
  Dl_info info{};
  void (*libc_function)() = &std::abort;
  ASSERT_NE(dladdr(reinterpret_cast<void*>(libc_function), &info), 0);
  auto loaded = backend_library::load_file(info.dli_fname, "libc");
  ASSERT_TRUE(std::holds_alternative<error>(loaded));
  EXPECT_NE(std::get<error>(loaded).message.find("surge_backend_api_version"), std::string::npos)
      << std::get<error>(loaded).message;
}

}  // namespace
}  // namespace surge
