#include "score/column_mapping.hpp"

#include <algorithm>
#include <charconv>
#include <string_view>

#include "config/model_config.hpp"
#include "core/text_fields.hpp"

namespace surge::score {

namespace {

bool readable_from_text(data_type type) {
  switch (type) {
    case data_type::bool_:
    case data_type::uint8:
    case data_type::uint16:
    case data_type::uint32:
    case data_type::uint64:
    case data_type::int8:
    case data_type::int16:
    case data_type::int32:
    case data_type::int64:
    case data_type::fp32:
    case data_type::fp64:
    case data_type::bytes:
      return true;
    default:
      return false;
  }
}

error invalid(std::string message) { return make_error(error_code::invalid_argument, std::move(message)); }

}  // namespace

std::variant<column_mapping, error> make_column_mapping(const config::ModelConfig& model, const std::string& key,
                                                        const std::vector<std::string>& input_specs,
                                                        const std::vector<std::string>& output_specs) {
  column_mapping mapping;
  mapping.key = key;
  mapping.batched = model.max_batch_size() > 0;
  mapping.max_batch_size = model.max_batch_size();
  if (key.empty()) return invalid("--key: the key column is empty");

  const auto column_index = [&mapping](std::string_view name) {
    auto found = std::find(mapping.source_columns.begin(), mapping.source_columns.end(), name);
    if (found != mapping.source_columns.end()) return static_cast<std::size_t>(found - mapping.source_columns.begin());
    mapping.source_columns.emplace_back(name);
    return mapping.source_columns.size() - 1;
  };

  for (const auto& spec : input_specs) {
    const auto equals = spec.find('=');
    if (equals == std::string::npos) return invalid("--input " + spec + ": expected INPUT=COLUMN[,COLUMN...]");
    const std::string name(trim_blanks(std::string_view(spec).substr(0, equals)));
    const auto* config_input = [&]() -> const config::ModelInput* {
      for (const auto& input : model.input()) {
        if (input.name() == name) return &input;
      }
      return nullptr;
    }();
    if (config_input == nullptr) return invalid("--input " + spec + ": model " + model.name() + " has no input '" + name + "'");
    if (std::any_of(mapping.inputs.begin(), mapping.inputs.end(), [&](const auto& b) { return b.input == name; })) {
      return invalid("--input " + spec + ": input '" + name + "' is mapped twice");
    }
    input_binding binding;
    binding.input = name;
    binding.type = to_data_type(config_input->data_type());
    if (!readable_from_text(binding.type)) {
      return invalid("--input " + spec + ": input '" + name + "' is " + std::string(config_name(binding.type)) +
                     ", which surge score cannot read from a column");
    }
    std::string_view list = std::string_view(spec).substr(equals + 1);
    std::vector<std::string> columns;
    while (true) {
      const auto comma = list.find(',');
      const auto column = trim_blanks(list.substr(0, comma));
      if (column.empty()) return invalid("--input " + spec + ": empty column name");
      if (column == key) return invalid("--input " + spec + ": the key column '" + key + "' cannot be an input");
      columns.emplace_back(column);
      if (comma == std::string_view::npos) break;
      list.remove_prefix(comma + 1);
    }
    std::int64_t fixed = 1;
    int variable = -1;
    for (int i = 0; i < config_input->dims_size(); ++i) {
      const auto d = config_input->dims(i);
      if (d < 0) {
        if (variable >= 0) {
          return invalid("--input " + spec + ": input '" + name + "' has more than one variable dim; give it fixed dims");
        }
        variable = i;
      } else {
        fixed *= d;
      }
    }
    binding.dims.assign(config_input->dims().begin(), config_input->dims().end());
    const auto count = static_cast<std::int64_t>(columns.size());
    if (variable >= 0) {
      if (fixed == 0 || count % fixed != 0) {
        return invalid("--input " + spec + ": " + std::to_string(count) + " column(s) do not fill input '" + name +
                       "' (its fixed dims hold " + std::to_string(fixed) + " element(s) per step)");
      }
      binding.dims[static_cast<std::size_t>(variable)] = count / fixed;
    } else if (count != fixed) {
      return invalid("--input " + spec + ": " + std::to_string(count) + " column(s) for input '" + name +
                     "', whose dims hold " + std::to_string(fixed) + " element(s)");
    }
    for (const auto& column : columns) binding.columns.push_back(column_index(column));
    mapping.inputs.push_back(std::move(binding));
  }
  for (const auto& input : model.input()) {
    if (input.optional()) continue;
    if (std::none_of(mapping.inputs.begin(), mapping.inputs.end(), [&](const auto& b) { return b.input == input.name(); })) {
      return invalid("--input: model " + model.name() + " input '" + input.name() + "' is not mapped (--input " +
                     input.name() + "=COLUMN,...)");
    }
  }

  if (output_specs.empty()) return invalid("--output: at least one COLUMN=OUTPUT[:INDEX] is needed");
  for (const auto& spec : output_specs) {
    const auto equals = spec.find('=');
    if (equals == std::string::npos) return invalid("--output " + spec + ": expected COLUMN=OUTPUT[:INDEX]");
    output_binding binding;
    binding.column = std::string(trim_blanks(std::string_view(spec).substr(0, equals)));
    if (binding.column.empty()) return invalid("--output " + spec + ": empty column name");
    if (binding.column == key || binding.column == "run_id" || binding.column == "scored_at") {
      return invalid("--output " + spec + ": column '" + binding.column + "' is taken by the output table itself");
    }
    if (std::any_of(mapping.outputs.begin(), mapping.outputs.end(),
                    [&](const auto& b) { return b.column == binding.column; })) {
      return invalid("--output " + spec + ": column '" + binding.column + "' is written twice");
    }
    std::string_view target = trim_blanks(std::string_view(spec).substr(equals + 1));
    bool indexed = false;
    if (const auto colon = target.rfind(':'); colon != std::string_view::npos) {
      const auto digits = target.substr(colon + 1);
      const auto parsed = std::from_chars(digits.data(), digits.data() + digits.size(), binding.index);
      if (digits.empty() || parsed.ec != std::errc{} || parsed.ptr != digits.data() + digits.size() ||
          binding.index < 0) {
        return invalid("--output " + spec + ": '" + std::string(digits) + "' is not an element index");
      }
      target = target.substr(0, colon);
      indexed = true;
    }
    binding.output = std::string(target);
    const auto* config_output = [&]() -> const config::ModelOutput* {
      for (const auto& output : model.output()) {
        if (output.name() == binding.output) return &output;
      }
      return nullptr;
    }();
    if (config_output == nullptr) {
      return invalid("--output " + spec + ": model " + model.name() + " has no output '" + binding.output + "'");
    }
    binding.type = to_data_type(config_output->data_type());
    if (!readable_from_text(binding.type)) {
      return invalid("--output " + spec + ": output '" + binding.output + "' is " +
                     std::string(config_name(binding.type)) + ", which surge score cannot write to a column");
    }
    binding.width = 1;
    bool variable = false;
    for (const auto d : config_output->dims()) {
      if (d < 0) variable = true;
      else binding.width *= d;
    }
    if (variable) binding.width = -1;  // known from each response
    if (!indexed && binding.width != 1) {
      return invalid("--output " + spec + ": output '" + binding.output + "' has " +
                     (variable ? std::string("a variable number of") : std::to_string(binding.width)) +
                     " elements per row; name one (" + binding.output + ":INDEX)");
    }
    if (binding.width > 0 && binding.index >= binding.width) {
      return invalid("--output " + spec + ": index " + std::to_string(binding.index) + " is outside output '" +
                     binding.output + "' (" + std::to_string(binding.width) + " elements per row)");
    }
    mapping.outputs.push_back(std::move(binding));
  }
  return mapping;
}

}  // namespace surge::score
