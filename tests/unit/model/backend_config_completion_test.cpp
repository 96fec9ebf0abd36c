// Config auto-complete: a backend's surge_model_autocomplete fills in what a
// config.pbtxt leaves out before the config is validated.
#include <gtest/gtest.h>

#include "config/model_config.hpp"
#include "config/model_repository.hpp"
#include "model/backend_spec.hpp"
#include "support/temp_dir.hpp"
#include "support/test_backend_control.hpp"

namespace surge {
namespace {

TEST(backend_config_completion_test, fills_in_inputs_outputs_and_max_batch_size_the_config_leaves_out) {
  testing::test_backend_control control;
  const testing::temp_dir repository("surge_autocomplete");
  testing::write_file(repository.path() / "auto" / "config.pbtxt",
                      "backend: \"test\"\n"
                      "parameters [ { key: \"autocomplete_max_batch_size\" value: { string_value: \"16\" } } ]\n");
  std::filesystem::create_directories(repository.path() / "auto" / "1");

  const auto plain = load_model_config(repository.path() / "auto");
  EXPECT_FALSE(plain.config);
  EXPECT_NE(plain.error.find("at least one input is required"), std::string::npos) << plain.error;

  const auto completion = backend_config_completion(control.directory());
  const auto completed = load_model_config(repository.path() / "auto", completion);
  ASSERT_TRUE(completed.config) << completed.error;
  ASSERT_EQ(completed.config->input_size(), 1);
  EXPECT_EQ(completed.config->input(0).name(), "INPUT0");
  EXPECT_EQ(completed.config->input(0).data_type(), config::TYPE_FP32);
  ASSERT_EQ(completed.config->output_size(), 1);
  EXPECT_EQ(completed.config->output(0).name(), "OUTPUT0");
  EXPECT_EQ(completed.config->max_batch_size(), 16);

  const auto entries = scan_model_repository(repository.path(), completion);
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_TRUE(entries[0].config) << entries[0].error;
}

TEST(backend_config_completion_test, what_the_config_declares_wins) {
  testing::test_backend_control control;
  const testing::temp_dir repository("surge_autocomplete");
  testing::write_file(repository.path() / "partial" / "config.pbtxt",
                      "backend: \"test\"\nmax_batch_size: 2\n"
                      "input [ { name: \"INPUT0\" data_type: TYPE_INT32 dims: [ 3 ] } ]\n"
                      "parameters [ { key: \"autocomplete_max_batch_size\" value: { string_value: \"16\" } } ]\n");
  std::filesystem::create_directories(repository.path() / "partial" / "1");
  const auto completed =
      load_model_config(repository.path() / "partial", backend_config_completion(control.directory()));
  ASSERT_TRUE(completed.config) << completed.error;
  ASSERT_EQ(completed.config->input_size(), 1);
  EXPECT_EQ(completed.config->input(0).data_type(), config::TYPE_INT32);
  EXPECT_EQ(completed.config->output_size(), 1);
  EXPECT_EQ(completed.config->max_batch_size(), 2);
}

TEST(backend_config_completion_test, leaves_remote_models_and_missing_backends_alone) {
  const testing::temp_dir repository("surge_autocomplete");
  testing::write_file(repository.path() / "nobackend" / "config.pbtxt", "backend: \"no_such_backend\"\n");
  std::filesystem::create_directories(repository.path() / "nobackend" / "1");
  const auto result =
      load_model_config(repository.path() / "nobackend",
                        backend_config_completion(testing::test_backend_control::directory()));
  EXPECT_FALSE(result.config);
  EXPECT_NE(result.error.find("at least one input is required"), std::string::npos) << result.error;
}

}  // namespace
}  // namespace surge
