#include "config/model_config.hpp"

#include <google/protobuf/io/tokenizer.h>
#include <google/protobuf/text_format.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <fstream>
#include <iterator>
#include <set>
#include <system_error>
#include <utility>

namespace surge {
namespace {

namespace fs = std::filesystem;

// A config.pbtxt is a few kilobytes; anything this large is a mistake (a
// model file saved under the wrong name), not something to parse.
constexpr std::uintmax_t max_config_file_bytes = 4 * 1024 * 1024;

constexpr std::string_view config_file_name = "config.pbtxt";

// ---- turning protobuf's parse errors into ones that point at the field ----

struct parse_problem {
  int line;    // 0-based, as protobuf reports it
  int column;  // 0-based, tabs advanced to the next multiple of 8
  std::string message;
};

class collecting_error_collector : public google::protobuf::io::ErrorCollector {
 public:
  void AddError(int line, google::protobuf::io::ColumnNumber column, const std::string& message) override {
    problems_.push_back({line, column, message});
  }

  const std::vector<parse_problem>& problems() const { return problems_; }

 private:
  std::vector<parse_problem> problems_;
};

bool is_identifier_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

// Byte offset of protobuf's (line, column); the tokenizer counts a tab as a
// jump to the next multiple of 8, so columns are not byte counts.
std::size_t offset_of(std::string_view text, int line, int column) {
  std::size_t offset = 0;
  for (int l = 0; l < line && offset < text.size(); ++l) {
    const auto newline = text.find('\n', offset);
    if (newline == std::string_view::npos) return text.size();
    offset = newline + 1;
  }
  for (int c = 0; c < column && offset < text.size() && text[offset] != '\n'; ++offset) {
    c = text[offset] == '\t' ? c + 8 - c % 8 : c + 1;
  }
  return offset;
}

// 1-based line and byte column, the way editors and compilers print them.
std::string position_of(std::string_view text, std::size_t offset) {
  offset = std::min(offset, text.size());
  const auto before = text.substr(0, offset);
  const auto line = std::count(before.begin(), before.end(), '\n') + 1;
  const auto line_start = before.rfind('\n');
  const auto column = line_start == std::string_view::npos ? offset + 1 : offset - line_start;
  return std::to_string(line) + ":" + std::to_string(column);
}

// Protobuf reports an unknown field at the token after its name (the ':' or
// '{'), so find the name itself: the last whole-word occurrence before that.
std::size_t find_name_before(std::string_view text, std::string_view name, std::size_t limit) {
  auto end = std::min(limit, text.size());
  while (end >= name.size()) {
    const auto at = text.substr(0, end).rfind(name);
    if (at == std::string_view::npos) break;
    const bool starts_word = at == 0 || !is_identifier_char(text[at - 1]);
    const bool ends_word = at + name.size() >= text.size() || !is_identifier_char(text[at + name.size()]);
    if (starts_word && ends_word) return at;
    if (at == 0) break;
    end = at + name.size() - 1;
  }
  return std::string_view::npos;
}

// For errors about a value ("Expected integer, got: -"), the field whose value
// it is: the identifier before the nearest preceding ':'. Empty if the text
// there does not look like "name: value".
std::string_view field_before(std::string_view text, std::size_t offset) {
  auto at = std::min(offset, text.size());
  while (at > 0 && is_space(text[at - 1])) --at;
  if (at == 0 || text[at - 1] != ':') return {};
  --at;
  while (at > 0 && is_space(text[at - 1])) --at;
  const auto end = at;
  while (at > 0 && is_identifier_char(text[at - 1])) --at;
  return text.substr(at, end - at);
}

// Rewrites `Message type "surge.config.ModelInput" has no field named "format".`
// into `unsupported field "format" in ModelInput`; nullopt for other messages.
std::optional<std::pair<std::string, std::string>> unknown_field(std::string_view message) {
  constexpr std::string_view head = "Message type \"";
  constexpr std::string_view middle = "\" has no field named \"";
  if (!message.starts_with(head)) return std::nullopt;
  const auto type_end = message.find(middle, head.size());
  if (type_end == std::string_view::npos) return std::nullopt;
  const auto field_begin = type_end + middle.size();
  const auto field_end = message.find('"', field_begin);
  if (field_end == std::string_view::npos) return std::nullopt;
  auto type = message.substr(head.size(), type_end - head.size());
  if (const auto dot = type.rfind('.'); dot != std::string_view::npos) type.remove_prefix(dot + 1);
  return std::pair{std::string(type), std::string(message.substr(field_begin, field_end - field_begin))};
}

// The n-th (0-based) double-quoted string in a protobuf error message.
std::optional<std::string_view> nth_quoted(std::string_view message, int n) {
  std::size_t at = 0;
  for (int i = 0;; ++i) {
    const auto open = message.find('"', at);
    if (open == std::string_view::npos) return std::nullopt;
    const auto close = message.find('"', open + 1);
    if (close == std::string_view::npos) return std::nullopt;
    if (i == n) return message.substr(open + 1, close - open - 1);
    at = close + 1;
  }
}

// Protobuf reports these errors at the token after the one at fault; the
// message quotes the culprit, so it can be found in the text instead.
std::optional<std::string_view> token_at_fault(std::string_view message) {
  struct pattern {
    std::string_view prefix;
    int quoted_index;
  };
  constexpr pattern patterns[] = {
      {"Unknown enumeration value of \"", 0},
      {"Non-repeated field \"", 0},
      {"Invalid value for boolean field \"", 1},
  };
  for (const auto& p : patterns) {
    if (message.starts_with(p.prefix)) return nth_quoted(message, p.quoted_index);
  }
  return std::nullopt;
}

std::string describe(std::string_view text, std::string_view source_name, const parse_problem& problem) {
  auto offset = offset_of(text, problem.line, problem.column);
  std::string out(source_name);
  if (const auto field = unknown_field(problem.message)) {
    const auto& [type, name] = *field;
    if (const auto name_at = find_name_before(text, name, offset); name_at != std::string_view::npos) offset = name_at;
    out += ":" + position_of(text, offset) + ": unsupported field \"" + name + "\"";
    if (type != "ModelConfig") out += " in " + type;
    return out;
  }
  if (const auto token = token_at_fault(problem.message); token && !token->empty()) {
    if (const auto token_at = find_name_before(text, *token, offset); token_at != std::string_view::npos) {
      offset = token_at;
    }
  }
  out += ":" + position_of(text, offset) + ": " + problem.message;
  // Protobuf names the field in most messages but not in value errors such as
  // "Integer out of range (99999999999)".
  if (problem.message.find("field") == std::string::npos) {
    if (const auto field = field_before(text, offset); !field.empty()) {
      out += " (field \"" + std::string(field) + "\")";
    }
  }
  return out;
}

// ---- validation ----

// Collects every problem so one load reports all of them, each prefixed with
// the config field it is about.
class problem_list {
 public:
  void add(std::string_view field, std::string message) {
    problems_.push_back(std::string(field) + ": " + std::move(message));
  }

  bool empty() const { return problems_.empty(); }

  std::string join(std::string_view source_name) const {
    std::string out(source_name);
    out += ": ";
    for (std::size_t i = 0; i < problems_.size(); ++i) {
      if (i > 0) out += "; ";
      out += problems_[i];
    }
    return out;
  }

 private:
  std::vector<std::string> problems_;
};

std::string in_quotes(std::string_view s) { return "\"" + std::string(s) + "\""; }

template <typename Dims>
void check_dims(problem_list& problems, std::string_view field, std::string_view what, const Dims& dims) {
  for (const auto dim : dims) {
    if (dim <= 0 && dim != -1) {
      problems.add(field, std::string(what) + " has dimension " + std::to_string(dim) + "; each must be > 0 or -1");
    }
  }
}

// Inputs and outputs share the checks; `kind` is "input" or "output".
template <typename Tensors>
void check_tensors(problem_list& problems, std::string_view kind, const Tensors& tensors) {
  const std::string field(kind);
  if (tensors.empty()) {
    problems.add(field, "at least one " + field + " is required");
    return;
  }
  std::set<std::string_view> seen;
  for (const auto& tensor : tensors) {
    const auto what = field + " " + in_quotes(tensor.name());
    if (tensor.name().empty()) {
      problems.add(field + ".name", "every " + field + " needs a name");
    } else if (!seen.insert(tensor.name()).second) {
      problems.add(field + ".name", "duplicate " + field + " name " + in_quotes(tensor.name()));
    }
    if (tensor.data_type() == config::TYPE_INVALID) {
      problems.add(field + ".data_type", what + " needs a data_type other than TYPE_INVALID");
    }
    if (tensor.dims().empty() && !tensor.has_reshape()) {
      problems.add(field + ".dims", what + " needs dims (or a reshape)");
    }
    check_dims(problems, field + ".dims", what, tensor.dims());
    if (tensor.has_reshape()) check_dims(problems, field + ".reshape.shape", what, tensor.reshape().shape());
  }
}

void check_version_policy(problem_list& problems, const config::ModelVersionPolicy& policy) {
  if (!policy.has_specific()) return;
  if (policy.specific().versions().empty()) {
    problems.add("version_policy.specific.versions", "must list at least one version");
  }
  for (const auto version : policy.specific().versions()) {
    if (version <= 0) {
      problems.add("version_policy.specific.versions",
                   std::to_string(version) + " is not a version; versions are >= 1");
    }
  }
}

void check_dynamic_batching(problem_list& problems, const config::ModelConfig& config) {
  if (!config.has_dynamic_batching()) return;
  const auto& batching = config.dynamic_batching();
  if (config.max_batch_size() <= 0) {
    problems.add("dynamic_batching", "requires max_batch_size > 0");
  }
  for (const auto size : batching.preferred_batch_size()) {
    if (size < 1 || size > config.max_batch_size()) {
      problems.add("dynamic_batching.preferred_batch_size",
                   std::to_string(size) + " is outside 1..max_batch_size (" + std::to_string(config.max_batch_size()) +
                       ")");
    }
  }
  const auto levels = batching.priority_levels();
  if (levels > 0) {
    const auto level = batching.default_priority_level();
    if (level < 1 || level > levels) {
      problems.add("dynamic_batching.default_priority_level",
                   std::to_string(level) + " is outside 1..priority_levels (" + std::to_string(levels) + ")");
    }
  } else if (batching.default_priority_level() != 0) {
    problems.add("dynamic_batching.default_priority_level", "is set but priority_levels is 0");
  }
  for (const auto& [level, policy] : batching.priority_queue_policy()) {
    if (level < 1 || level > levels) {
      problems.add("dynamic_batching.priority_queue_policy",
                   "level " + std::to_string(level) + " is outside 1..priority_levels (" + std::to_string(levels) +
                       ")");
    }
  }
  // max_queue_size is unsigned, as in Triton, so a negative value is already a
  // parse error that names the field.
}

void check_generation(problem_list& problems, const config::ModelConfig& config) {
  if (!config.has_generation()) return;
  const auto& generation = config.generation();
  if (config.has_dynamic_batching()) {
    problems.add("generation", "cannot be combined with dynamic_batching (generative models batch every step)");
  }
  if (config.max_batch_size() != 0) {
    problems.add("max_batch_size", "must be 0 for a model with generation (sequences are batched per step)");
  }
  if (!config.model_transaction_policy().decoupled()) {
    problems.add("model_transaction_policy.decoupled", "must be true for a model with generation (it streams tokens)");
  }
  const auto levels = std::max<std::uint32_t>(1, generation.priority_levels());
  if (generation.default_priority_level() > levels) {
    problems.add("generation.default_priority_level",
                 std::to_string(generation.default_priority_level()) + " is outside 1..priority_levels (" +
                     std::to_string(levels) + ")");
  }
  if (generation.max_tokens_limit() > 0 && generation.default_max_tokens() > generation.max_tokens_limit()) {
    problems.add("generation.default_max_tokens", "exceeds generation.max_tokens_limit");
  }
}

void check_instance_groups(problem_list& problems, const config::ModelConfig& config) {
  for (const auto& group : config.instance_group()) {
    const auto what = "group " + in_quotes(group.name());
    if (group.count() < 1) {
      problems.add("instance_group.count", what + " has count " + std::to_string(group.count()) + "; must be >= 1");
    }
    if (group.kind() == config::ModelInstanceGroup::KIND_GPU) {
      problems.add("instance_group.kind", "KIND_GPU is not supported by this build");
    }
    if (!group.gpus().empty()) {
      problems.add("instance_group.gpus", what + " lists GPUs, which this build does not support");
    }
  }
}

// A path here could reach outside the version directory.
void check_model_filename(problem_list& problems, const std::string& filename) {
  if (filename.empty()) return;
  const fs::path path(filename);
  if (filename.find('/') != std::string::npos || filename.find('\\') != std::string::npos || filename == "." ||
      filename == ".." || path.is_absolute()) {
    problems.add("default_model_filename", in_quotes(filename) + " must be a file name, not a path");
  }
}

// worker_pool and upstream: where the model runs when not in this process.
void check_remote_execution(problem_list& problems, const config::ModelConfig& config) {
  if (config.has_worker_pool() && config.has_upstream()) {
    problems.add("worker_pool", "a model runs on a worker pool or an upstream API, not both");
  }
  if (config.has_worker_pool()) {
    const auto& pool = config.worker_pool();
    const auto heartbeat = pool.heartbeat_ms() == 0 ? 1000u : pool.heartbeat_ms();
    const auto claim_idle = pool.claim_idle_ms() == 0 ? 5000u : pool.claim_idle_ms();
    // Workers re-claim long batches every heartbeat; a claim_idle no longer
    // than that would let another worker take (and run again) a batch that
    // is still running.
    if (claim_idle <= heartbeat) {
      problems.add("worker_pool.claim_idle_ms", std::to_string(claim_idle) + " must be longer than heartbeat_ms (" +
                                                    std::to_string(heartbeat) + ")");
    }
  }
  if (config.has_upstream()) {
    const auto& url = config.upstream().url();
    if (url.empty()) {
      problems.add("upstream.url", "is required");
    } else if (!url.starts_with("http://")) {
      problems.add("upstream.url", in_quotes(url) + " must be an http:// URL");
    }
  }
}

void fill_defaults(config::ModelConfig& config, std::string_view directory_name) {
  if (config.name().empty()) config.set_name(std::string(directory_name));

  // Triton names its libtorch backend "pytorch" (or, in older configs, the
  // platform "pytorch_libtorch"); surge's plugin for it is
  // libsurge_backend_torchscript.so, so Triton repositories load unchanged.
  if (config.backend().empty() && config.platform() == "pytorch_libtorch") config.set_backend("torchscript");
  if (config.backend() == "pytorch") config.set_backend("torchscript");

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

void validate(problem_list& problems, const config::ModelConfig& config, std::string_view directory_name) {
  if (config.name() != directory_name) {
    problems.add("name", in_quotes(config.name()) + " does not match the model directory " + in_quotes(directory_name));
  }
  // An upstream API executes the model; nothing is loaded here.
  if (config.backend().empty() && !config.has_upstream()) {
    if (config.platform().empty()) {
      problems.add("backend", "a backend (or platform \"pytorch_libtorch\") is required");
    } else {
      problems.add("platform", in_quotes(config.platform()) + " is not supported; set backend instead");
    }
  }
  if (config.max_batch_size() < 0) {
    problems.add("max_batch_size", "must be >= 0, got " + std::to_string(config.max_batch_size()));
  }
  check_tensors(problems, "input", config.input());
  check_tensors(problems, "output", config.output());
  check_version_policy(problems, config.version_policy());
  check_dynamic_batching(problems, config);
  check_generation(problems, config);
  check_instance_groups(problems, config);
  check_model_filename(problems, config.default_model_filename());
  check_remote_execution(problems, config);
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
  collecting_error_collector errors;
  google::protobuf::TextFormat::Parser parser;
  parser.RecordErrorsTo(&errors);
  parser.AllowUnknownField(false);
  parser.AllowUnknownExtension(false);
  const bool parsed = parser.ParseFromString(std::string(text), &config);
  if (parsed && errors.problems().empty()) return {std::move(config), {}};

  std::string message;
  for (const auto& problem : errors.problems()) {
    if (!message.empty()) message += "; ";
    message += describe(text, source_name, problem);
  }
  if (message.empty()) message = std::string(source_name) + ": not a valid model config";
  return {std::nullopt, std::move(message)};
}

config_load_result complete_model_config(config::ModelConfig config, std::string_view directory_name,
                                         std::string_view source_name, const config_completion& completion,
                                         const fs::path& model_dir) {
  fill_defaults(config, directory_name);
  if (completion) {
    if (auto failure = completion(config, model_dir)) return {std::nullopt, std::string(source_name) + ": " + *failure};
  }
  problem_list problems;
  validate(problems, config, directory_name);
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
