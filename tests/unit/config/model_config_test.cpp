#include "config/model_config.hpp"

#include <gmock/gmock.h>
#include <google/protobuf/text_format.h>
#include <google/protobuf/util/message_differencer.h>
#include <gtest/gtest.h>

#include "support/temp_dir.hpp"

#include <atomic>
#include <chrono>
#include <fstream>
#include <random>
#include <string>

namespace surge {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

using testing::temp_dir;
using testing::write_file;

// Every field surge supports, each with a non-default value.
constexpr std::string_view full_config = R"pb(
name: "full"
platform: "pytorch_libtorch"
backend: "torchscript"
version_policy { specific { versions: [ 1, 3 ] } }
max_batch_size: 8
input [
  {
    name: "INPUT0"
    data_type: TYPE_FP32
    dims: [ 3, -1 ]
  },
  {
    name: "INPUT1"
    data_type: TYPE_STRING
    dims: [ 1 ]
    reshape { shape: [ ] }
    optional: true
  }
]
output [
  {
    name: "OUTPUT0"
    data_type: TYPE_BF16
    dims: [ 6 ]
    reshape { shape: [ 2, 3 ] }
  }
]
instance_group [
  { name: "cpu_pool" kind: KIND_CPU count: 2 },
  { kind: KIND_MODEL gpus: [ ] }
]
dynamic_batching {
  preferred_batch_size: [ 4, 8 ]
  max_queue_delay_microseconds: 500
  preserve_ordering: true
  priority_levels: 2
  default_priority_level: 2
  default_queue_policy {
    timeout_action: DELAY
    default_timeout_microseconds: 10000
    allow_timeout_override: true
    max_queue_size: 64
  }
  priority_queue_policy {
    key: 1
    value { timeout_action: REJECT max_queue_size: 16 }
  }
}
parameters { key: "threads" value { string_value: "4" } }
default_model_filename: "model.pt"
admission { max_queue_size: 512 max_queue_wait_microseconds: 250000 }
dispatch { policy: MAX_QUEUE_DELAY }
)pb";

TEST(ModelConfigParse, FullConfigRoundTrips) {
  const auto parsed = parse_model_config(full_config, "full/config.pbtxt");
  ASSERT_TRUE(parsed.config) << parsed.error;
  EXPECT_TRUE(parsed.error.empty());
  const auto& config = *parsed.config;

  EXPECT_EQ(config.name(), "full");
  EXPECT_EQ(config.platform(), "pytorch_libtorch");
  EXPECT_EQ(config.backend(), "torchscript");
  ASSERT_TRUE(config.version_policy().has_specific());
  EXPECT_THAT(config.version_policy().specific().versions(), ::testing::ElementsAre(1, 3));
  EXPECT_EQ(config.max_batch_size(), 8);

  ASSERT_EQ(config.input_size(), 2);
  EXPECT_EQ(config.input(0).name(), "INPUT0");
  EXPECT_EQ(config.input(0).data_type(), config::TYPE_FP32);
  EXPECT_THAT(config.input(0).dims(), ::testing::ElementsAre(3, -1));
  EXPECT_FALSE(config.input(0).has_reshape());
  EXPECT_FALSE(config.input(0).optional());
  EXPECT_EQ(config.input(1).data_type(), config::TYPE_STRING);
  EXPECT_TRUE(config.input(1).has_reshape());
  EXPECT_TRUE(config.input(1).reshape().shape().empty());
  EXPECT_TRUE(config.input(1).optional());

  ASSERT_EQ(config.output_size(), 1);
  EXPECT_EQ(config.output(0).data_type(), config::TYPE_BF16);
  EXPECT_THAT(config.output(0).reshape().shape(), ::testing::ElementsAre(2, 3));

  ASSERT_EQ(config.instance_group_size(), 2);
  EXPECT_EQ(config.instance_group(0).name(), "cpu_pool");
  EXPECT_EQ(config.instance_group(0).kind(), config::ModelInstanceGroup::KIND_CPU);
  EXPECT_EQ(config.instance_group(0).count(), 2);
  EXPECT_EQ(config.instance_group(1).kind(), config::ModelInstanceGroup::KIND_MODEL);

  ASSERT_TRUE(config.has_dynamic_batching());
  const auto& batching = config.dynamic_batching();
  EXPECT_THAT(batching.preferred_batch_size(), ::testing::ElementsAre(4, 8));
  EXPECT_EQ(batching.max_queue_delay_microseconds(), 500u);
  EXPECT_TRUE(batching.preserve_ordering());
  EXPECT_EQ(batching.priority_levels(), 2u);
  EXPECT_EQ(batching.default_priority_level(), 2u);
  EXPECT_EQ(batching.default_queue_policy().timeout_action(), config::ModelQueuePolicy::DELAY);
  EXPECT_EQ(batching.default_queue_policy().default_timeout_microseconds(), 10000u);
  EXPECT_TRUE(batching.default_queue_policy().allow_timeout_override());
  EXPECT_EQ(batching.default_queue_policy().max_queue_size(), 64u);
  ASSERT_EQ(batching.priority_queue_policy().count(1), 1u);
  EXPECT_EQ(batching.priority_queue_policy().at(1).max_queue_size(), 16u);

  ASSERT_EQ(config.parameters().count("threads"), 1u);
  EXPECT_EQ(config.parameters().at("threads").string_value(), "4");
  EXPECT_EQ(config.default_model_filename(), "model.pt");
  EXPECT_EQ(config.admission().max_queue_size(), 512u);
  EXPECT_EQ(config.admission().max_queue_wait_microseconds(), 250000u);
  EXPECT_EQ(config.dispatch().policy(), config::ModelDispatch::MAX_QUEUE_DELAY);

  // Printed back and parsed again, nothing is lost or changed.
  std::string printed;
  ASSERT_TRUE(google::protobuf::TextFormat::PrintToString(config, &printed));
  const auto reparsed = parse_model_config(printed, "printed");
  ASSERT_TRUE(reparsed.config) << reparsed.error;
  EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(config, *reparsed.config)) << printed;

  // And it is valid as written.
  const auto completed = complete_model_config(config, "full", "full/config.pbtxt");
  ASSERT_TRUE(completed.config) << completed.error;
  EXPECT_EQ(completed.config->instance_group(1).name(), "full_1");
  EXPECT_EQ(completed.config->instance_group(1).count(), 1);
}

TEST(ModelConfigParse, UnknownTopLevelFieldNamesFieldAndLine) {
  const std::string text =
      "name: \"foo\"\n"
      "backend: \"identity\"\n"
      "max_batch_size: 4\n"
      "input [ { name: \"x\" data_type: TYPE_FP32 dims: [ 1 ] } ]\n"
      "output [ { name: \"y\" data_type: TYPE_FP32 dims: [ 1 ] } ]\n"
      "\n"
      "  response_cache { enable: true }\n";
  const auto parsed = parse_model_config(text, "models/foo/config.pbtxt");
  EXPECT_FALSE(parsed.config);
  EXPECT_EQ(parsed.error, "models/foo/config.pbtxt:7:3: unsupported field \"response_cache\"");
}

TEST(ModelConfigParse, UnknownNestedFieldNamesMessageType) {
  const std::string text =
      "input [\n"
      "  {\n"
      "    name: \"x\"\n"
      "    format: FORMAT_NCHW\n"
      "  }\n"
      "]\n";
  const auto parsed = parse_model_config(text, "c.pbtxt");
  EXPECT_FALSE(parsed.config);
  EXPECT_EQ(parsed.error, "c.pbtxt:4:5: unsupported field \"format\" in ModelInput");
}

TEST(ModelConfigParse, UnknownFieldColumnCountsTabsAsOneByte) {
  const auto parsed = parse_model_config("name: \"a\"\n\t\tresponse_cache { enable: true }\n", "c.pbtxt");
  EXPECT_EQ(parsed.error, "c.pbtxt:2:3: unsupported field \"response_cache\"");
}

TEST(ModelConfigParse, UnknownFieldWithValueOnNextLine) {
  const auto parsed =
      parse_model_config("name: \"a\"\nresponse_cache\n{ enable: true }\n", "c.pbtxt");
  EXPECT_EQ(parsed.error, "c.pbtxt:2:1: unsupported field \"response_cache\"");
}

TEST(ModelConfigParse, TypoIsAnUnsupportedField) {
  const auto parsed = parse_model_config("max_batch_sise: 4\n", "c.pbtxt");
  EXPECT_EQ(parsed.error, "c.pbtxt:1:1: unsupported field \"max_batch_sise\"");
}

TEST(ModelConfigParse, ExtensionsAreRejected) {
  const auto parsed = parse_model_config("[surge.config.other]: 1\n", "c.pbtxt");
  EXPECT_FALSE(parsed.config);
  EXPECT_THAT(parsed.error, HasSubstr("c.pbtxt:1:"));
  EXPECT_THAT(parsed.error, HasSubstr("surge.config.other"));
}

TEST(ModelConfigParse, UnknownEnumValueNamesField) {
  const auto parsed = parse_model_config("input { name: \"x\"\n  data_type: TYPE_FP128 }\n", "c.pbtxt");
  EXPECT_FALSE(parsed.config);
  EXPECT_THAT(parsed.error, HasSubstr("c.pbtxt:2:14: "));
  EXPECT_THAT(parsed.error, HasSubstr("TYPE_FP128"));
  EXPECT_THAT(parsed.error, HasSubstr("\"data_type\""));
}

TEST(ModelConfigParse, NegativeMaxQueueSizeIsAnErrorNamingTheField) {
  const auto parsed =
      parse_model_config("dynamic_batching {\n  default_queue_policy { max_queue_size: -1 }\n}\n", "c.pbtxt");
  EXPECT_FALSE(parsed.config);
  EXPECT_THAT(parsed.error, HasSubstr("c.pbtxt:2:42: "));
  EXPECT_THAT(parsed.error, HasSubstr("(field \"max_queue_size\")"));
}

TEST(ModelConfigParse, SyntaxErrorHasPosition) {
  const auto parsed = parse_model_config("name: \"a\"\ninput [ { name: \"x\" }\n", "c.pbtxt");
  EXPECT_FALSE(parsed.config);
  EXPECT_THAT(parsed.error, ::testing::StartsWith("c.pbtxt:"));
}

TEST(ModelConfigParse, SingularFieldTwiceIsAnErrorAtTheSecond) {
  const auto parsed = parse_model_config("max_batch_size: 1\nmax_batch_size: 2\n", "c.pbtxt");
  EXPECT_FALSE(parsed.config);
  EXPECT_THAT(parsed.error, ::testing::StartsWith("c.pbtxt:2:1: "));
  EXPECT_THAT(parsed.error, HasSubstr("\"max_batch_size\""));
}

TEST(ModelConfigParse, BadBooleanPointsAtTheValue) {
  const auto parsed = parse_model_config("dynamic_batching {\n  preserve_ordering: maybe }\n", "c.pbtxt");
  EXPECT_FALSE(parsed.config);
  EXPECT_THAT(parsed.error, ::testing::StartsWith("c.pbtxt:2:22: "));
  EXPECT_THAT(parsed.error, HasSubstr("\"preserve_ordering\""));
}

TEST(ModelConfigParse, WrongValueTypeNamesTheField) {
  const auto parsed = parse_model_config("name: 3\n", "c.pbtxt");
  EXPECT_EQ(parsed.error, "c.pbtxt:1:7: Expected string, got: 3 (field \"name\")");
}

// ---- defaults ----

constexpr std::string_view identity_io = R"pb(
input [ { name: "INPUT0" data_type: TYPE_FP32 dims: [ -1 ] } ]
output [ { name: "OUTPUT0" data_type: TYPE_FP32 dims: [ -1 ] } ]
)pb";

config_load_result complete_text(const std::string& text, std::string_view directory_name = "m") {
  auto parsed = parse_model_config(text, "m/config.pbtxt");
  if (!parsed.config) return parsed;
  return complete_model_config(std::move(*parsed.config), directory_name, "m/config.pbtxt");
}

TEST(ModelConfigDefaults, FilledWhenAbsent) {
  const auto result = complete_text("backend: \"identity\"\n" + std::string(identity_io), "identity");
  ASSERT_TRUE(result.config) << result.error;
  const auto& config = *result.config;
  EXPECT_EQ(config.name(), "identity");
  EXPECT_EQ(config.max_batch_size(), 0);
  ASSERT_TRUE(config.version_policy().has_latest());
  EXPECT_EQ(config.version_policy().latest().num_versions(), 1u);
  ASSERT_EQ(config.instance_group_size(), 1);
  EXPECT_EQ(config.instance_group(0).kind(), config::ModelInstanceGroup::KIND_CPU);
  EXPECT_EQ(config.instance_group(0).count(), 1);
  EXPECT_EQ(config.instance_group(0).name(), "identity_0");
  EXPECT_FALSE(config.has_dynamic_batching());
}

TEST(ModelConfigDefaults, GroupCountZeroBecomesOneAndAutoBecomesCpu) {
  const auto result = complete_text("backend: \"identity\"\n"
                                    "instance_group [ { count: 0 }, { count: 3 kind: KIND_AUTO } ]\n" +
                                    std::string(identity_io));
  ASSERT_TRUE(result.config) << result.error;
  ASSERT_EQ(result.config->instance_group_size(), 2);
  EXPECT_EQ(result.config->instance_group(0).count(), 1);
  EXPECT_EQ(result.config->instance_group(0).kind(), config::ModelInstanceGroup::KIND_CPU);
  EXPECT_EQ(result.config->instance_group(1).count(), 3);
  EXPECT_EQ(result.config->instance_group(1).kind(), config::ModelInstanceGroup::KIND_CPU);
}

TEST(ModelConfigDefaults, PytorchPlatformSelectsTorchscriptBackend) {
  const auto result = complete_text("platform: \"pytorch_libtorch\"\n" + std::string(identity_io));
  ASSERT_TRUE(result.config) << result.error;
  EXPECT_EQ(result.config->backend(), "torchscript");
  EXPECT_EQ(result.config->platform(), "pytorch_libtorch");
}

TEST(ModelConfigDefaults, OnnxPlatformSelectsOnnxruntimeBackend) {
  const auto result = complete_text("platform: \"onnxruntime_onnx\"\n" + std::string(identity_io));
  ASSERT_TRUE(result.config) << result.error;
  EXPECT_EQ(result.config->backend(), "onnxruntime");
}

TEST(ModelConfigDefaults, TritonPytorchBackendNameSelectsTorchscript) {
  const auto result = complete_text("backend: \"pytorch\"\n" + std::string(identity_io));
  ASSERT_TRUE(result.config) << result.error;
  EXPECT_EQ(result.config->backend(), "torchscript");
}

TEST(ModelConfigDefaults, ExplicitBackendIsKept) {
  const auto result = complete_text("platform: \"pytorch_libtorch\"\nbackend: \"custom\"\n" + std::string(identity_io));
  ASSERT_TRUE(result.config) << result.error;
  EXPECT_EQ(result.config->backend(), "custom");
}

TEST(ModelConfigDefaults, LatestWithZeroVersionsMeansOne) {
  const auto result =
      complete_text("backend: \"identity\"\nversion_policy { latest { } }\n" + std::string(identity_io));
  ASSERT_TRUE(result.config) << result.error;
  EXPECT_EQ(result.config->version_policy().latest().num_versions(), 1u);
}

TEST(ModelConfigDefaults, ReshapeWithoutDimsAndVariableDimsAreValid) {
  const auto result = complete_text(R"pb(
    backend: "identity"
    max_batch_size: 4
    input [ { name: "scalar" data_type: TYPE_INT64 dims: [ ] reshape { shape: [ 1 ] } } ]
    output [ { name: "y" data_type: TYPE_FP32 dims: [ -1, -1 ] } ]
  )pb");
  EXPECT_TRUE(result.config) << result.error;
}

TEST(ModelConfigDefaults, RaggedInputWithAVariableDimIsValid) {
  const auto result = complete_text(R"pb(
    backend: "identity"
    max_batch_size: 4
    input [ { name: "input_ids" data_type: TYPE_INT64 dims: [ -1 ] allow_ragged_batch: true } ]
    output [ { name: "y" data_type: TYPE_FP32 dims: [ 2 ] } ]
  )pb");
  ASSERT_TRUE(result.config) << result.error;
  EXPECT_TRUE(result.config->input(0).allow_ragged_batch());
}

// ---- validation: each rule names the field it is about ----

struct invalid_case {
  std::string label;
  std::string text;
  std::string expected;  // a substring of the error
};

std::ostream& operator<<(std::ostream& os, const invalid_case& c) { return os << c.label; }

class ModelConfigValidation : public ::testing::TestWithParam<invalid_case> {};

TEST_P(ModelConfigValidation, ErrorNamesField) {
  const auto& param = GetParam();
  const auto result = complete_text(param.text);
  EXPECT_FALSE(result.config);
  EXPECT_THAT(result.error, ::testing::StartsWith("m/config.pbtxt: "));
  EXPECT_THAT(result.error, HasSubstr(param.expected));
}

const std::string backend_line = "backend: \"identity\"\n";
const std::string io = std::string(identity_io);

INSTANTIATE_TEST_SUITE_P(
    EachRule, ModelConfigValidation,
    ::testing::Values(
        invalid_case{"name_mismatch", "name: \"other\"\n" + backend_line + io,
                     "name: \"other\" does not match the model directory \"m\""},
        invalid_case{"backend_missing", io, "backend: a backend (or platform \"pytorch_libtorch\") is required"},
        invalid_case{"platform_unsupported", "platform: \"tensorflow_savedmodel\"\n" + io,
                     "platform: \"tensorflow_savedmodel\" is not supported"},
        invalid_case{"max_batch_size_negative", backend_line + "max_batch_size: -1\n" + io,
                     "max_batch_size: must be >= 0, got -1"},
        invalid_case{"no_input", backend_line + "output [ { name: \"y\" data_type: TYPE_FP32 dims: [ 1 ] } ]",
                     "input: at least one input is required"},
        invalid_case{"no_output", backend_line + "input [ { name: \"x\" data_type: TYPE_FP32 dims: [ 1 ] } ]",
                     "output: at least one output is required"},
        invalid_case{"duplicate_input",
                     backend_line + io + "input [ { name: \"INPUT0\" data_type: TYPE_INT8 dims: [ 1 ] } ]",
                     "input.name: duplicate input name \"INPUT0\""},
        invalid_case{"duplicate_output",
                     backend_line + io + "output [ { name: \"OUTPUT0\" data_type: TYPE_INT8 dims: [ 1 ] } ]",
                     "output.name: duplicate output name \"OUTPUT0\""},
        invalid_case{"empty_input_name", backend_line + io + "input [ { data_type: TYPE_INT8 dims: [ 1 ] } ]",
                     "input.name: every input needs a name"},
        invalid_case{"empty_output_name", backend_line + io + "output [ { data_type: TYPE_INT8 dims: [ 1 ] } ]",
                     "output.name: every output needs a name"},
        invalid_case{"input_data_type_invalid", backend_line + io + "input [ { name: \"z\" dims: [ 1 ] } ]",
                     "input.data_type: input \"z\" needs a data_type other than TYPE_INVALID"},
        invalid_case{"output_data_type_invalid",
                     backend_line + io + "output [ { name: \"z\" data_type: TYPE_INVALID dims: [ 1 ] } ]",
                     "output.data_type: output \"z\" needs a data_type"},
        invalid_case{"input_dims_empty", backend_line + io + "input [ { name: \"z\" data_type: TYPE_INT8 } ]",
                     "input.dims: input \"z\" needs dims (or a reshape)"},
        invalid_case{"output_dims_empty", backend_line + io + "output [ { name: \"z\" data_type: TYPE_INT8 } ]",
                     "output.dims: output \"z\" needs dims (or a reshape)"},
        invalid_case{"input_dim_zero",
                     backend_line + io + "input [ { name: \"z\" data_type: TYPE_INT8 dims: [ 2, 0 ] } ]",
                     "input.dims: input \"z\" has dimension 0; each must be > 0 or -1"},
        invalid_case{"output_dim_minus_two",
                     backend_line + io + "output [ { name: \"z\" data_type: TYPE_INT8 dims: [ -2 ] } ]",
                     "output.dims: output \"z\" has dimension -2"},
        invalid_case{"reshape_dim_invalid",
                     backend_line + io +
                         "input [ { name: \"z\" data_type: TYPE_INT8 dims: [ 4 ] reshape { shape: [ 2, -3 ] } } ]",
                     "input.reshape.shape: input \"z\" has dimension -3"},
        invalid_case{"ragged_without_variable_dim",
                     backend_line + "max_batch_size: 8\n" + io +
                         "input [ { name: \"z\" data_type: TYPE_INT64 dims: [ 4 ] allow_ragged_batch: true } ]",
                     "input.allow_ragged_batch: input \"z\" allows ragged batching but has no variable (-1) "
                     "dimension to pad"},
        invalid_case{"ragged_without_batching",
                     backend_line + io +
                         "input [ { name: \"z\" data_type: TYPE_INT64 dims: [ -1 ] allow_ragged_batch: true } ]",
                     "input.allow_ragged_batch: input \"z\" allows ragged batching, which needs max_batch_size > 0"},
        invalid_case{"dynamic_batching_without_batching", backend_line + "dynamic_batching { }\n" + io,
                     "dynamic_batching: requires max_batch_size > 0"},
        invalid_case{"preferred_batch_size_too_large",
                     backend_line + "max_batch_size: 8\ndynamic_batching { preferred_batch_size: [ 4, 16 ] }\n" + io,
                     "dynamic_batching.preferred_batch_size: 16 is outside 1..max_batch_size (8)"},
        invalid_case{"preferred_batch_size_zero",
                     backend_line + "max_batch_size: 8\ndynamic_batching { preferred_batch_size: 0 }\n" + io,
                     "dynamic_batching.preferred_batch_size: 0 is outside 1..max_batch_size (8)"},
        invalid_case{"default_priority_level_too_high",
                     backend_line +
                         "max_batch_size: 8\ndynamic_batching { priority_levels: 3 default_priority_level: 4 }\n" + io,
                     "dynamic_batching.default_priority_level: 4 is outside 1..priority_levels (3)"},
        invalid_case{"default_priority_level_missing",
                     backend_line + "max_batch_size: 8\ndynamic_batching { priority_levels: 3 }\n" + io,
                     "dynamic_batching.default_priority_level: 0 is outside 1..priority_levels (3)"},
        invalid_case{"default_priority_level_without_levels",
                     backend_line + "max_batch_size: 8\ndynamic_batching { default_priority_level: 1 }\n" + io,
                     "dynamic_batching.default_priority_level: is set but priority_levels is 0"},
        invalid_case{"priority_queue_policy_level_out_of_range",
                     backend_line +
                         "max_batch_size: 8\ndynamic_batching { priority_levels: 2 default_priority_level: 1 "
                         "priority_queue_policy { key: 3 value { max_queue_size: 1 } } }\n" +
                         io,
                     "dynamic_batching.priority_queue_policy: level 3 is outside 1..priority_levels (2)"},
        invalid_case{"sequence_oldest_without_candidates",
                     backend_line + "max_batch_size: 4\nsequence_batching { oldest { } }\n" + io,
                     "sequence_batching.oldest.max_candidate_sequences: must be at least 1"},
        invalid_case{"sequence_control_without_values",
                     backend_line + "sequence_batching { control_input [ { name: \"START\" control [ { kind: "
                                    "CONTROL_SEQUENCE_START } ] } ] }\n" + io,
                     "sequence_batching.control_input[0].control[0]: needs exactly one of int32_false_true, "
                     "fp32_false_true and bool_false_true"},
        invalid_case{"sequence_control_one_value",
                     backend_line + "sequence_batching { control_input [ { name: \"END\" control [ { kind: "
                                    "CONTROL_SEQUENCE_END int32_false_true: [ 1 ] } ] } ] }\n" + io,
                     "sequence_batching.control_input[0].control[0]: *_false_true holds two values"},
        invalid_case{"sequence_corrid_float",
                     backend_line + "sequence_batching { control_input [ { name: \"CORRID\" control [ { kind: "
                                    "CONTROL_SEQUENCE_CORRID data_type: TYPE_FP32 } ] } ] }\n" + io,
                     "sequence_batching.control_input[0].control[0].data_type: a CONTROL_SEQUENCE_CORRID tensor"},
        invalid_case{"sequence_control_named_as_input",
                     backend_line + "input [ { name: \"S\" data_type: TYPE_INT32 dims: [ 1 ] } ]\n"
                                    "sequence_batching { control_input [ { name: \"S\" control [ { kind: "
                                    "CONTROL_SEQUENCE_START int32_false_true: [ 0, 1 ] } ] } ] }\n" + io,
                     "sequence_batching.control_input[0].name: \"S\" is already an input or another control"},
        invalid_case{"dispatch_without_dynamic_batching", backend_line + "dispatch { policy: MAX_QUEUE_DELAY }\n" + io,
                     "dispatch: requires dynamic_batching"},
        invalid_case{"admission_with_generation",
                     backend_line + "model_transaction_policy { decoupled: true }\ngeneration { }\n" +
                         "admission { max_queue_size: 4 }\n" + io,
                     "admission: does not apply to a model with generation"},
        invalid_case{"kind_gpu", backend_line + "instance_group [ { kind: KIND_GPU } ]\n" + io,
                     "instance_group.kind: KIND_GPU is not supported by this build"},
        invalid_case{"gpus_listed", backend_line + "instance_group [ { kind: KIND_AUTO gpus: [ 0 ] } ]\n" + io,
                     "instance_group.gpus: group \"m_0\" lists GPUs"},
        invalid_case{"count_negative", backend_line + "instance_group [ { name: \"g\" count: -2 } ]\n" + io,
                     "instance_group.count: group \"g\" has count -2; must be >= 1"},
        invalid_case{"specific_versions_empty", backend_line + "version_policy { specific { } }\n" + io,
                     "version_policy.specific.versions: must list at least one version"},
        invalid_case{"specific_version_zero", backend_line + "version_policy { specific { versions: 0 } }\n" + io,
                     "version_policy.specific.versions: 0 is not a version"},
        invalid_case{"model_filename_is_a_path", backend_line + "default_model_filename: \"../other/model.pt\"\n" + io,
                     "default_model_filename: \"../other/model.pt\" must be a file name, not a path"}),
    [](const ::testing::TestParamInfo<invalid_case>& info) { return info.param.label; });

TEST(ModelConfigValidation, ReportsEveryProblemAtOnce) {
  const auto result = complete_text("max_batch_size: -4\ninstance_group [ { kind: KIND_GPU } ]\n");
  EXPECT_FALSE(result.config);
  EXPECT_THAT(result.error, HasSubstr("backend: "));
  EXPECT_THAT(result.error, HasSubstr("max_batch_size: "));
  EXPECT_THAT(result.error, HasSubstr("input: "));
  EXPECT_THAT(result.error, HasSubstr("output: "));
  EXPECT_THAT(result.error, HasSubstr("instance_group.kind: "));
}

// ---- loading from a directory ----

TEST(ModelConfigLoad, MissingFileNamesPath) {
  temp_dir dir;
  const auto model_dir = dir.path() / "absent_config";
  fs::create_directories(model_dir);
  const auto result = load_model_config(model_dir);
  EXPECT_FALSE(result.config);
  EXPECT_EQ(result.error, (model_dir / "config.pbtxt").string() + ": no such file");
}

TEST(ModelConfigLoad, LoadsAndNamesModelAfterDirectory) {
  temp_dir dir;
  const auto model_dir = dir.path() / "simple";
  write_file(model_dir / "config.pbtxt", backend_line + io);
  const auto result = load_model_config(model_dir);
  ASSERT_TRUE(result.config) << result.error;
  EXPECT_EQ(result.config->name(), "simple");

  // A trailing separator does not change the model's name.
  const auto with_slash = load_model_config(fs::path(model_dir.string() + "/"));
  ASSERT_TRUE(with_slash.config) << with_slash.error;
  EXPECT_EQ(with_slash.config->name(), "simple");
}

TEST(ModelConfigLoad, ErrorsArePrefixedWithThePath) {
  temp_dir dir;
  const auto model_dir = dir.path() / "bad";
  write_file(model_dir / "config.pbtxt", backend_line + io + "response_cache { }\n");
  const auto parse_error = load_model_config(model_dir);
  EXPECT_FALSE(parse_error.config);
  EXPECT_EQ(parse_error.error, (model_dir / "config.pbtxt").string() + ":5:1: unsupported field \"response_cache\"");

  write_file(model_dir / "config.pbtxt", "name: \"good\"\n" + backend_line + io);
  const auto name_error = load_model_config(model_dir);
  EXPECT_FALSE(name_error.config);
  EXPECT_EQ(name_error.error, (model_dir / "config.pbtxt").string() +
                                  ": name: \"good\" does not match the model directory \"bad\"");
}

// ---- version selection ----

class VersionSelection : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const auto* name : {"1", "2", "10", "03", "0", "abc", "99999999999999999999999"}) {
      fs::create_directories(dir_.path() / name);
    }
    write_file(dir_.path() / "7", "a file, not a version directory");
  }

  std::vector<std::int64_t> select(const std::string& policy_text) {
    config::ModelConfig config;
    EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(policy_text, &config));
    return select_versions(config, dir_.path());
  }

  temp_dir dir_;
};

TEST_F(VersionSelection, ListsOnlyNumericDirectories) {
  EXPECT_THAT(list_version_directories(dir_.path()), ::testing::ElementsAre(1, 2, 10));
}

TEST_F(VersionSelection, DefaultIsTheLatestOne) { EXPECT_THAT(select(""), ::testing::ElementsAre(10)); }

TEST_F(VersionSelection, LatestN) {
  EXPECT_THAT(select("version_policy { latest { num_versions: 2 } }"), ::testing::ElementsAre(2, 10));
  EXPECT_THAT(select("version_policy { latest { num_versions: 5 } }"), ::testing::ElementsAre(1, 2, 10));
  EXPECT_THAT(select("version_policy { latest { } }"), ::testing::ElementsAre(10));
}

TEST_F(VersionSelection, All) { EXPECT_THAT(select("version_policy { all { } }"), ::testing::ElementsAre(1, 2, 10)); }

TEST_F(VersionSelection, SpecificKeepsOnlyThoseThatExist) {
  EXPECT_THAT(select("version_policy { specific { versions: [ 10, 5, 1 ] } }"), ::testing::ElementsAre(1, 10));
  EXPECT_THAT(select("version_policy { specific { versions: [ 4 ] } }"), ::testing::IsEmpty());
}

TEST(VersionSelectionMissingDirectory, IsEmpty) {
  temp_dir dir;
  EXPECT_THAT(select_versions(config::ModelConfig{}, dir.path() / "nowhere"), ::testing::IsEmpty());
}

// ---- data types ----

TEST(ConfigDataType, MatchesCoreDataType) {
  EXPECT_EQ(to_data_type(config::TYPE_FP32), data_type::fp32);
  EXPECT_EQ(to_data_type(config::TYPE_STRING), data_type::bytes);
  EXPECT_EQ(to_data_type(config::TYPE_BF16), data_type::bf16);
  EXPECT_EQ(to_data_type(config::TYPE_INVALID), data_type::invalid);
  for (int value = config::DataType_MIN; value <= config::DataType_MAX; ++value) {
    const auto type = static_cast<config::DataType>(value);
    EXPECT_EQ(to_config_data_type(to_data_type(type)), type);
    // The names agree too: TYPE_FP32 is config_name(fp32).
    EXPECT_EQ(config::DataType_Name(type), config_name(to_data_type(type)));
  }
}

}  // namespace
}  // namespace surge
