#include "ensemble/ensemble_plan.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <string>

#include "config/model_config.hpp"

namespace surge::ensemble {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

config::ModelConfig parsed(const std::string& name, const std::string& text) {
  auto result = parse_model_config(text, name + "/config.pbtxt");
  EXPECT_TRUE(result.config) << result.error;
  auto completed = complete_model_config(std::move(*result.config), name, name + "/config.pbtxt");
  EXPECT_TRUE(completed.config) << completed.error;
  return std::move(*completed.config);
}

// A step model: INPUT0 -> OUTPUT0 of `type` and `dims`, batching up to 8.
config::ModelConfig step_model(const std::string& name, const std::string& type = "TYPE_FP32",
                               const std::string& dims = "4") {
  return parsed(name, "name: \"" + name + "\" backend: \"identity\" max_batch_size: 8\n" +
                          "input [ { name: \"INPUT0\" data_type: " + type + " dims: [ " + dims + " ] } ]\n" +
                          "output [ { name: \"OUTPUT0\" data_type: " + type + " dims: [ " + dims + " ] } ]\n");
}

std::string step(const std::string& model, const std::string& input, const std::string& output) {
  return "step { model_name: \"" + model + "\" model_version: -1 input_map { key: \"INPUT0\" value: \"" + input +
         "\" } output_map { key: \"OUTPUT0\" value: \"" + output + "\" } }\n";
}

config::ModelConfig ensemble(const std::string& steps, const std::string& output_dims = "4") {
  return parsed("pipe", "name: \"pipe\" platform: \"ensemble\" max_batch_size: 8\n"
                        "input [ { name: \"IN\" data_type: TYPE_FP32 dims: [ 4 ] } ]\n"
                        "output [ { name: \"OUT\" data_type: TYPE_FP32 dims: [ " +
                            output_dims + " ] } ]\nensemble_scheduling {\n" + steps + "}\n");
}

struct served_models {
  std::map<std::string, config::ModelConfig> models;
  step_model_lookup lookup() const {
    return [this](const std::string& name, std::optional<std::int64_t>) -> const config::ModelConfig* {
      const auto it = models.find(name);
      return it == models.end() ? nullptr : &it->second;
    };
  }
};

std::string failure_of(const config::ModelConfig& config, const served_models& served) {
  auto planned = plan_ensemble(config, served.lookup());
  if (auto* failure = std::get_if<error>(&planned)) {
    EXPECT_EQ(failure->code, error_code::invalid_argument);
    return failure->message;
  }
  return "";
}

TEST(ensemble_plan, orders_a_chain_and_maps_its_outputs) {
  served_models served{{{"a", step_model("a")}, {"b", step_model("b")}}};
  auto planned = plan_ensemble(ensemble(step("b", "mid", "OUT") + step("a", "IN", "mid")), served.lookup());
  ASSERT_TRUE(std::holds_alternative<ensemble_plan>(planned)) << std::get<error>(planned).message;
  const auto& plan = std::get<ensemble_plan>(planned);
  ASSERT_EQ(plan.steps.size(), 2u);
  // Config order is kept; the data decides what runs first.
  EXPECT_EQ(plan.steps[0].model_name, "b");
  EXPECT_THAT(plan.initial_steps, ElementsAre(1u));
  EXPECT_THAT(plan.steps[1].consumers, ElementsAre(0u));
  EXPECT_EQ(plan.steps[0].produced_inputs, 1u);
  EXPECT_EQ(plan.outputs.at("OUT"), std::make_pair(std::size_t{0}, std::string("OUTPUT0")));
  EXPECT_THAT(step_models(ensemble(step("b", "mid", "OUT") + step("a", "IN", "mid"))), ElementsAre("a", "b"));
}

TEST(ensemble_plan, an_unknown_step_model_names_the_ensemble_and_the_step) {
  served_models served{{{"a", step_model("a")}}};
  EXPECT_EQ(failure_of(ensemble(step("a", "IN", "mid") + step("missing", "mid", "OUT")), served),
            "ensemble 'pipe' step 2 ('missing'): model 'missing' is not served; "
            "ensemble 'pipe': output 'OUT' is written by no step (no output_map names tensor 'OUT')");
}

TEST(ensemble_plan, a_step_input_nothing_produces_names_the_step_and_the_tensor) {
  served_models served{{{"a", step_model("a")}}};
  EXPECT_EQ(failure_of(ensemble(step("a", "nowhere", "OUT")), served),
            "ensemble 'pipe' step 1 ('a'): input 'INPUT0' reads tensor 'nowhere', which no ensemble input or step "
            "produces");
}

TEST(ensemble_plan, a_type_mismatch_between_steps_names_both_ends) {
  served_models served{{{"a", step_model("a")}, {"ints", step_model("ints", "TYPE_INT32")}}};
  EXPECT_THAT(failure_of(ensemble(step("a", "IN", "mid") + step("ints", "mid", "OUT")), served),
              HasSubstr("ensemble 'pipe' step 2 ('ints'): input 'INPUT0' is TYPE_INT32 but tensor 'mid' "
                        "(step 1 ('a') output 'OUTPUT0') is TYPE_FP32"));
}

TEST(ensemble_plan, a_shape_mismatch_names_the_shapes_and_variable_dimensions_match_any_size) {
  served_models served{{{"a", step_model("a")}, {"three", step_model("three", "TYPE_FP32", "3")},
                        {"any", step_model("any", "TYPE_FP32", "-1")}}};
  EXPECT_EQ(failure_of(ensemble(step("a", "IN", "mid") + step("three", "mid", "OUT"), "3"), served),
            "ensemble 'pipe' step 2 ('three'): input 'INPUT0' has shape [-1,3] but tensor 'mid' "
            "(step 1 ('a') output 'OUTPUT0') has shape [-1,4]");
  EXPECT_EQ(failure_of(ensemble(step("any", "IN", "mid") + step("a", "mid", "OUT")), served), "");
}

TEST(ensemble_plan, a_cycle_is_spelled_out_through_its_tensors) {
  served_models served{{{"a", step_model("a")}, {"b", step_model("b")}, {"c", step_model("c")}}};
  // c writes OUT from t1; a and b feed each other.
  const auto steps = step("a", "t2", "t1") + step("b", "t1", "t2") +
                     "step { model_name: \"c\" model_version: -1 input_map { key: \"INPUT0\" value: \"IN\" } "
                     "output_map { key: \"OUTPUT0\" value: \"OUT\" } }\n";
  EXPECT_EQ(failure_of(ensemble(steps), served),
            "ensemble 'pipe' step 1 ('a'): dependency cycle: step 1 ('a') -> tensor 't1' -> step 2 ('b') -> "
            "tensor 't2' -> step 1 ('a')");
}

TEST(ensemble_plan, a_tensor_written_twice_and_an_unknown_step_tensor_are_refused) {
  served_models served{{{"a", step_model("a")}, {"b", step_model("b")}}};
  EXPECT_THAT(failure_of(ensemble(step("a", "IN", "OUT") + step("b", "IN", "OUT")), served),
              HasSubstr("ensemble 'pipe' step 2 ('b'): output 'OUTPUT0' writes tensor 'OUT', which step 1 ('a') "
                        "output 'OUTPUT0' already produces"));
  const auto wrong_name = "step { model_name: \"a\" model_version: -1 input_map { key: \"IN0\" value: \"IN\" } "
                          "output_map { key: \"OUTPUT0\" value: \"OUT\" } }\n";
  EXPECT_THAT(failure_of(ensemble(wrong_name), served),
              HasSubstr("ensemble 'pipe' step 1 ('a'): input_map names input 'IN0', which model 'a' does not have"));
  EXPECT_THAT(failure_of(ensemble(wrong_name), served),
              HasSubstr("the model's input 'INPUT0' is required but input_map does not feed it"));
}

TEST(ensemble_plan, a_batching_ensemble_needs_batching_steps) {
  const auto flat = parsed("flat",
                           "name: \"flat\" backend: \"identity\" max_batch_size: 0\n"
                           "input [ { name: \"INPUT0\" data_type: TYPE_FP32 dims: [ -1, 4 ] } ]\n"
                           "output [ { name: \"OUTPUT0\" data_type: TYPE_FP32 dims: [ -1, 4 ] } ]\n");
  served_models served{{{"flat", flat}}};
  EXPECT_THAT(failure_of(ensemble(step("flat", "IN", "OUT")), served),
              HasSubstr("ensemble 'pipe' step 1 ('flat'): the model does not batch (max_batch_size 0) but the "
                        "ensemble does (max_batch_size 8)"));
}

TEST(ensemble_config, platform_ensemble_needs_steps_and_only_ensembles_have_them) {
  auto empty = parse_model_config("name: \"pipe\" platform: \"ensemble\" max_batch_size: 8\n"
                                  "input [ { name: \"IN\" data_type: TYPE_FP32 dims: [ 4 ] } ]\n"
                                  "output [ { name: \"OUT\" data_type: TYPE_FP32 dims: [ 4 ] } ]\n",
                                  "pipe/config.pbtxt");
  ASSERT_TRUE(empty.config);
  const auto refused = complete_model_config(std::move(*empty.config), "pipe", "pipe/config.pbtxt");
  EXPECT_EQ(refused.error, "pipe/config.pbtxt: ensemble_scheduling: an ensemble needs at least one step");

  auto stray = parse_model_config("name: \"m\" backend: \"identity\" max_batch_size: 8\n"
                                  "input [ { name: \"IN\" data_type: TYPE_FP32 dims: [ 4 ] } ]\n"
                                  "output [ { name: \"OUT\" data_type: TYPE_FP32 dims: [ 4 ] } ]\n" +
                                      std::string("ensemble_scheduling { ") + step("a", "IN", "OUT") + "}",
                                  "m/config.pbtxt");
  ASSERT_TRUE(stray.config) << stray.error;
  EXPECT_THAT(complete_model_config(std::move(*stray.config), "m", "m/config.pbtxt").error,
              HasSubstr("ensemble_scheduling: only a model with platform \"ensemble\" may have ensemble_scheduling"));
}

TEST(ensemble_config, ensemble_scheduling_and_dynamic_batching_exclude_each_other) {
  const auto both = parse_model_config("name: \"pipe\" platform: \"ensemble\"\ndynamic_batching { }\n"
                                       "ensemble_scheduling { " + step("a", "IN", "OUT") + "}",
                                       "pipe/config.pbtxt");
  EXPECT_FALSE(both.config);
}

}  // namespace
}  // namespace surge::ensemble
