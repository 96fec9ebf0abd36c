#include "config/model_config.hpp"

#include <google/protobuf/util/json_util.h>

#include <google/protobuf/text_format.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <fstream>
#include <iterator>
#include <system_error>
#include <utility>

#include "config/parse_errors.hpp"
#include "config/validation.hpp"

namespace surge {
namespace {

namespace fs = std::filesystem;

// A config.pbtxt is a few kilobytes; anything this large is a mistake (a
// model file saved under the wrong name), not something to parse.
constexpr std::uintmax_t max_config_file_bytes = 4 * 1024 * 1024;

constexpr std::string_view config_file_name = "config.pbtxt";

void fill_defaults(config::ModelConfig& config, std::string_view directory_name) {
  if (config.name().empty()) config.set_name(std::string(directory_name));

  // Triton names its libtorch backend "pytorch" (or, in older configs, the
  // platform "pytorch_libtorch"); surge's plugin for it is
  // libsurge_backend_torchscript.so, so Triton repositories load unchanged.
  if (config.backend().empty() && config.platform() == "pytorch_libtorch") config.set_backend("torchscript");
  if (config.backend() == "pytorch") config.set_backend("torchscript");
  // Triton's ONNX Runtime backend is "onnxruntime" as here; older configs
  // name only the platform.
  if (config.backend().empty() && config.platform() == "onnxruntime_onnx") config.set_backend("onnxruntime");

  // A features model can answer the vector it scored with (docs/features.md).
  if (config.platform() == "features" && config.has_features() && config.features().vector_size() > 0) {
    bool declared = false;
    for (const auto& output : config.output()) declared = declared || output.name() == "FEATURES";
    if (!declared) {
      auto& features = *config.add_output();
      features.set_name("FEATURES");
      features.set_data_type(config::TYPE_FP32);
      features.add_dims(config.features().vector_size());
    }
  }

  auto& policy = *config.mutable_version_policy();
  if (policy.policy_choice_case() == config::ModelVersionPolicy::POLICY_CHOICE_NOT_SET) policy.mutable_latest();
  if (policy.has_latest() && policy.latest().num_versions() == 0) policy.mutable_latest()->set_num_versions(1);

  if (config.instance_group().empty()) config.add_instance_group();
  for (int i = 0; i < config.instance_group_size(); ++i) {
    auto& group = *config.mutable_instance_group(i);
    if (group.name().empty()) group.set_name(config.name() + "_" + std::to_string(i));
    if (group.count() == 0) group.set_count(1);
    // Triton runs KIND_AUTO on GPUs when it finds them; this build has none.
    if (group.kind() == config::ModelInstanceGroup::KIND_AUTO) group.set_kind(config::ModelInstanceGroup::KIND_CPU);
  }
}

// Every section's checks, in the order their problems are reported.
constexpr config_validation::section_validator section_validators[] = {
    config_validation::validate_backend,
    config_validation::validate_max_batch_size,
    config_validation::validate_inputs,
    config_validation::validate_outputs,
    config_validation::validate_version_policy,
    config_validation::validate_dynamic_batching,
    config_validation::validate_sequence_batching,
    config_validation::validate_generation,
    config_validation::validate_instance_groups,
    config_validation::validate_default_model_filename,
    config_validation::validate_worker_pool,
    config_validation::validate_upstream,
    config_validation::validate_ensemble,
    config_validation::validate_features,
};

config_validation::problem_list validate(const config::ModelConfig& config, std::string_view directory_name) {
  config_validation::problem_list problems;
  config_validation::validate_name(problems, config, directory_name);
  for (const auto check : section_validators) check(problems, config);
  return problems;
}

std::string model_directory_name(const fs::path& model_dir) {
  std::error_code ec;
  auto normal = fs::absolute(model_dir, ec);
  if (ec) normal = model_dir;
  normal = normal.lexically_normal();
  if (!normal.has_filename()) normal = normal.parent_path();
  return normal.filename().string();
}

std::optional<std::int64_t> parse_version(std::string_view name) {
  if (name.empty() || name.front() == '0') return std::nullopt;
  if (!std::all_of(name.begin(), name.end(), [](char c) { return c >= '0' && c <= '9'; })) return std::nullopt;
  std::int64_t version = 0;
  const auto [end, ec] = std::from_chars(name.data(), name.data() + name.size(), version);
  if (ec != std::errc{} || end != name.data() + name.size()) return std::nullopt;
  return version;
}

// Every value both enums have, so a renumbering on either side fails to build.
constexpr std::array<std::pair<config::DataType, data_type>, 15> same_values{{
    {config::TYPE_INVALID, data_type::invalid},
    {config::TYPE_BOOL, data_type::bool_},
    {config::TYPE_UINT8, data_type::uint8},
    {config::TYPE_UINT16, data_type::uint16},
    {config::TYPE_UINT32, data_type::uint32},
    {config::TYPE_UINT64, data_type::uint64},
    {config::TYPE_INT8, data_type::int8},
    {config::TYPE_INT16, data_type::int16},
    {config::TYPE_INT32, data_type::int32},
    {config::TYPE_INT64, data_type::int64},
    {config::TYPE_FP16, data_type::fp16},
    {config::TYPE_FP32, data_type::fp32},
    {config::TYPE_FP64, data_type::fp64},
    {config::TYPE_STRING, data_type::bytes},
    {config::TYPE_BF16, data_type::bf16},
}};

}  // namespace

config_load_result parse_model_config(std::string_view text, std::string_view source_name) {
  config::ModelConfig config;
  config_parsing::collecting_error_collector errors;
  google::protobuf::TextFormat::Parser parser;
  parser.RecordErrorsTo(&errors);
  parser.AllowUnknownField(false);
  parser.AllowUnknownExtension(false);
  const bool parsed = parser.ParseFromString(std::string(text), &config);
  if (parsed && errors.problems().empty()) return {std::move(config), {}};

  std::string message;
  for (const auto& problem : errors.problems()) {
    if (!message.empty()) message += "; ";
    message += config_parsing::describe_parse_problem(text, source_name, problem);
  }
  if (message.empty()) message = std::string(source_name) + ": not a valid model config";
  return {std::nullopt, std::move(message)};
}

config_load_result parse_model_config_json(std::string_view json, std::string_view source_name) {
  config::ModelConfig config;
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = false;
  const auto status = google::protobuf::util::JsonStringToMessage(std::string(json), &config, options);
  if (!status.ok()) return {std::nullopt, std::string(source_name) + ": " + std::string(status.message())};
  return {std::move(config), {}};
}

config_load_result complete_model_config(config::ModelConfig config, std::string_view directory_name,
                                         std::string_view source_name, const config_completion& completion,
                                         const fs::path& model_dir) {
  fill_defaults(config, directory_name);
  if (completion) {
    if (auto failure = completion(config, model_dir)) return {std::nullopt, std::string(source_name) + ": " + *failure};
  }
  const auto problems = validate(config, directory_name);
  if (!problems.empty()) return {std::nullopt, problems.join(source_name)};
  return {std::move(config), {}};
}

config_load_result load_model_config(const fs::path& model_dir, const config_completion& completion) {
  const auto path = model_dir / config_file_name;
  const auto source_name = path.string();
  std::error_code ec;
  if (!fs::is_regular_file(path, ec)) return {std::nullopt, source_name + ": no such file"};
  const auto size = fs::file_size(path, ec);
  if (ec) return {std::nullopt, source_name + ": " + ec.message()};
  if (size > max_config_file_bytes) {
    return {std::nullopt, source_name + ": " + std::to_string(size) + " bytes is too large for a model config (limit " +
                              std::to_string(max_config_file_bytes) + ")"};
  }
  std::ifstream file(path, std::ios::binary);
  if (!file.is_open()) return {std::nullopt, source_name + ": cannot be opened"};
  std::string text{std::istreambuf_iterator<char>(file), std::istreambuf_iterator<char>()};
  if (file.bad()) return {std::nullopt, source_name + ": cannot be read"};

  auto parsed = parse_model_config(text, source_name);
  if (!parsed.config) return parsed;
  return complete_model_config(std::move(*parsed.config), model_directory_name(model_dir), source_name, completion,
                               model_dir);
}

std::vector<std::int64_t> list_version_directories(const fs::path& model_dir) {
  std::vector<std::int64_t> versions;
  std::error_code ec;
  for (fs::directory_iterator it(model_dir, ec), end; !ec && it != end; it.increment(ec)) {
    std::error_code type_ec;
    if (!it->is_directory(type_ec)) continue;
    if (const auto version = parse_version(it->path().filename().string())) versions.push_back(*version);
  }
  std::sort(versions.begin(), versions.end());
  return versions;
}

std::vector<std::int64_t> select_versions(const config::ModelConfig& config, const fs::path& model_dir) {
  auto available = list_version_directories(model_dir);
  const auto& policy = config.version_policy();
  switch (policy.policy_choice_case()) {
    case config::ModelVersionPolicy::kAll:
      return available;
    case config::ModelVersionPolicy::kSpecific: {
      std::vector<std::int64_t> selected;
      for (const auto version : available) {
        const auto& wanted = policy.specific().versions();
        if (std::find(wanted.begin(), wanted.end(), version) != wanted.end()) selected.push_back(version);
      }
      return selected;
    }
    case config::ModelVersionPolicy::kLatest:
    case config::ModelVersionPolicy::POLICY_CHOICE_NOT_SET:
      break;
  }
  const std::size_t wanted =
      policy.has_latest() && policy.latest().num_versions() > 0 ? policy.latest().num_versions() : 1;
  if (available.size() > wanted) {
    available.erase(available.begin(), available.end() - static_cast<std::ptrdiff_t>(wanted));
  }
  return available;
}

data_type to_data_type(config::DataType type) {
  static_assert(std::all_of(same_values.begin(), same_values.end(), [](const auto& row) {
    return static_cast<int>(row.first) == static_cast<int>(row.second);
  }));
  static_assert(same_values.size() == static_cast<std::size_t>(config::DataType_ARRAYSIZE));
  if (!config::DataType_IsValid(type)) return data_type::invalid;
  return static_cast<data_type>(static_cast<int>(type));
}

config::DataType to_config_data_type(data_type type) {
  const auto value = static_cast<int>(type);
  if (!config::DataType_IsValid(value)) return config::TYPE_INVALID;
  return static_cast<config::DataType>(value);
}

}  // namespace surge
