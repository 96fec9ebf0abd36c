#include "sequence/sequence_controls.hpp"

#include <charconv>
#include <cstdint>
#include <cstring>
#include <optional>

#include "core/client_text.hpp"

namespace surge {

namespace {

using control = config::ModelSequenceBatching::Control;

const std::string* parameter(const inference_request& request, std::string_view key) {
  for (const auto& [k, v] : request.parameters) {
    if (k == key) return &v;
  }
  return nullptr;
}

std::optional<error> read_flag(const inference_request& request, std::string_view key, bool& out) {
  const auto* value = parameter(request, key);
  if (!value) return std::nullopt;
  if (*value == "true") out = true;
  else if (*value == "false") out = false;
  else return make_error(error_code::invalid_argument, "parameter " + std::string(key) + " must be a boolean, got '" +
                                                           client_text(*value) + "'");
  return std::nullopt;
}

bool is_integer(const std::string& text, bool allow_negative) {
  if (text.empty()) return false;
  if (text[0] == '-') {
    if (!allow_negative) return false;
    std::int64_t v = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    return ec == std::errc{} && end == text.data() + text.size();
  }
  std::uint64_t v = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  return ec == std::errc{} && end == text.data() + text.size();
}

const control* corrid_control(const config::ModelConfig& config, std::string* name = nullptr) {
  for (const auto& input : config.sequence_batching().control_input()) {
    for (const auto& c : input.control()) {
      if (c.kind() == control::CONTROL_SEQUENCE_CORRID) {
        if (name) *name = input.name();
        return &c;
      }
    }
  }
  return nullptr;
}

template <typename T>
tensor scalar_tensor(const std::string& name, data_type type, bool batched, T value) {
  auto t = make_owned_tensor(name, type, batched ? std::vector<std::int64_t>{1, 1} : std::vector<std::int64_t>{1},
                             sizeof(T));
  std::memcpy(mutable_data(t), &value, sizeof(T));
  return t;
}

tensor flag_tensor(const std::string& name, const control& c, bool batched, bool value) {
  const int index = value ? 1 : 0;
  if (c.int32_false_true_size() == 2) {
    return scalar_tensor<std::int32_t>(name, data_type::int32, batched, c.int32_false_true(index));
  }
  if (c.fp32_false_true_size() == 2) {
    return scalar_tensor<float>(name, data_type::fp32, batched, c.fp32_false_true(index));
  }
  return scalar_tensor<std::uint8_t>(name, data_type::bool_, batched, c.bool_false_true(index) ? 1 : 0);
}

tensor corrid_tensor(const std::string& name, const control& c, bool batched, const std::string& id) {
  switch (c.data_type()) {
    case config::TYPE_STRING: {
      auto t = make_owned_tensor(name, data_type::bytes,
                                 batched ? std::vector<std::int64_t>{1, 1} : std::vector<std::int64_t>{1},
                                 4 + id.size());
      const auto length = static_cast<std::uint32_t>(id.size());
      std::memcpy(mutable_data(t), &length, 4);
      std::memcpy(mutable_data(t) + 4, id.data(), id.size());
      return t;
    }
    case config::TYPE_INT64:
      return scalar_tensor<std::int64_t>(name, data_type::int64, batched, std::stoll(id));
    case config::TYPE_UINT32:
      return scalar_tensor<std::uint32_t>(name, data_type::uint32, batched, static_cast<std::uint32_t>(std::stoull(id)));
    case config::TYPE_INT32:
      return scalar_tensor<std::int32_t>(name, data_type::int32, batched, static_cast<std::int32_t>(std::stoll(id)));
    default:
      return scalar_tensor<std::uint64_t>(name, data_type::uint64, batched, std::stoull(id));
  }
}

}  // namespace

std::variant<sequence_controls, error> read_sequence_controls(const config::ModelConfig& config,
                                                              const inference_request& request) {
  sequence_controls controls;
  const auto* id = parameter(request, "sequence_id");
  if (!id || id->empty() || *id == "0") {
    return make_error(error_code::invalid_argument,
                      "model '" + config.name() +
                          "' keeps state across requests (sequence_batching): every request needs a sequence_id "
                          "parameter (a non-zero integer or a string)");
  }
  if (id->size() > 256) {
    return make_error(error_code::invalid_argument, "sequence_id is " + std::to_string(id->size()) +
                                                        " bytes long; at most 256 are allowed");
  }
  if (config.max_batch_size() > 0 && request.batch_rows() != 1) {
    return make_error(error_code::invalid_argument,
                      "a request to stateful model '" + config.name() + "' is one step of one sequence: its batch "
                      "dimension must be 1, got " + std::to_string(request.batch_rows()));
  }
  controls.id = *id;
  if (auto failure = read_flag(request, "sequence_start", controls.start)) return std::move(*failure);
  if (auto failure = read_flag(request, "sequence_end", controls.end)) return std::move(*failure);
  std::string corrid_name;
  if (const auto* corrid = corrid_control(config, &corrid_name); corrid && corrid->data_type() != config::TYPE_STRING) {
    const bool is_signed = corrid->data_type() == config::TYPE_INT64 || corrid->data_type() == config::TYPE_INT32;
    bool fits = is_integer(controls.id, is_signed);
    if (fits && (corrid->data_type() == config::TYPE_INT32 || corrid->data_type() == config::TYPE_UINT32)) {
      const long long value = std::stoll(controls.id);
      fits = corrid->data_type() == config::TYPE_INT32 ? value >= INT32_MIN && value <= INT32_MAX
                                                        : value >= 0 && value <= static_cast<long long>(UINT32_MAX);
    }
    if (!fits) {
      return make_error(error_code::invalid_argument,
                        "sequence_id '" + client_text(controls.id) + "' does not fit control input '" + corrid_name +
                            "' of model '" + config.name() + "' (" + config::DataType_Name(corrid->data_type()) + ")");
    }
  }
  return controls;
}

void add_sequence_controls(const config::ModelConfig& config, const sequence_controls& controls, std::uint32_t slot,
                           inference_request& request) {
  const bool batched = config.max_batch_size() > 0;
  for (const auto& input : config.sequence_batching().control_input()) {
    if (input.control().empty()) continue;
    const auto& c = input.control(0);
    switch (c.kind()) {
      case control::CONTROL_SEQUENCE_START:
        request.inputs.push_back(flag_tensor(input.name(), c, batched, controls.start));
        break;
      case control::CONTROL_SEQUENCE_END:
        request.inputs.push_back(flag_tensor(input.name(), c, batched, controls.end));
        break;
      case control::CONTROL_SEQUENCE_READY:
        request.inputs.push_back(flag_tensor(input.name(), c, batched, true));
        break;
      case control::CONTROL_SEQUENCE_CORRID:
        request.inputs.push_back(corrid_tensor(input.name(), c, batched, controls.id));
        break;
      default:
        break;
    }
  }
  request.parameters.emplace_back("sequence_slot", std::to_string(slot));
}

}  // namespace surge
