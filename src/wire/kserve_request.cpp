#include "wire/kserve_request.hpp"

#include <bit>
#include <limits>
#include <utility>

#include "wire/json_text.hpp"
#include "wire/json_tensor_reader.hpp"
#include "wire/tensor_checks.hpp"

namespace surge::wire {

// The wire format is little-endian; tensors are copied to and from it with
// memcpy, which is only right on a little-endian host.
static_assert(std::endian::native == std::endian::little, "surge assumes a little-endian host");

namespace {

std::optional<error> decode_request_parameters(const json_value& parameters, decoded_infer_request& request) {
  if (!parameters.IsObject()) return invalid("\"parameters\" must be an object, got " + json_type_name(parameters));
  if (const auto* binary = find_member(parameters, "binary_data_output")) {
    if (!binary->IsBool()) return invalid("parameters.binary_data_output must be a boolean");
    request.binary_outputs_default = binary->GetBool();
  }
  if (const auto* priority = find_member(parameters, "priority")) {
    if (!priority->IsUint()) {
      return invalid("parameters.priority must be an integer from 0 to " +
                     std::to_string(std::numeric_limits<std::uint32_t>::max()));
    }
    request.priority = priority->GetUint();
  }
  if (const auto* timeout = find_member(parameters, "timeout")) {
    using rep = std::chrono::microseconds::rep;
    if (!timeout->IsUint64() || timeout->GetUint64() > static_cast<std::uint64_t>(std::numeric_limits<rep>::max())) {
      return invalid("parameters.timeout must be a non-negative integer number of microseconds");
    }
    request.timeout = std::chrono::microseconds(static_cast<rep>(timeout->GetUint64()));
  }
  for (auto it = parameters.MemberBegin(); it != parameters.MemberEnd(); ++it) {
    const auto key = string_of(it->name);
    if (key == "binary_data_output" || key == "priority" || key == "timeout") continue;
    const auto& value = it->value;
    if (value.IsString()) {
      request.parameters.emplace_back(key, string_of(value));
    } else if (value.IsBool()) {
      request.parameters.emplace_back(key, value.GetBool() ? "true" : "false");
    } else if (value.IsNumber()) {
      request.parameters.emplace_back(key, number_text(value));
    }
  }
  return std::nullopt;
}

std::optional<error> decode_requested_outputs(const json_value& outputs, decoded_infer_request& request) {
  if (!outputs.IsArray()) return invalid("\"outputs\" must be an array, got " + json_type_name(outputs));
  request.outputs.reserve(outputs.Size());
  for (rapidjson::SizeType i = 0; i < outputs.Size(); ++i) {
    const auto& output = outputs[i];
    const std::string where = "outputs[" + std::to_string(i) + "]";
    if (!output.IsObject()) return invalid(where + " must be an object, got " + json_type_name(output));
    const auto* name = find_member(output, "name");
    if (!name) return invalid(where + " has no \"name\"");
    if (!name->IsString()) return invalid(where + ": \"name\" must be a string, got " + json_type_name(*name));
    const std::string label = quoted_label("output", string_of(*name));

    requested_output requested{std::string(string_of(*name)), request.binary_outputs_default, 0, std::nullopt};
    if (const auto* parameters = find_member(output, "parameters")) {
      if (!parameters->IsObject()) {
        return invalid(label + ": \"parameters\" must be an object, got " + json_type_name(*parameters));
      }
      if (const auto* binary = find_member(*parameters, "binary_data")) {
        if (!binary->IsBool()) return invalid(label + ": binary_data must be a boolean");
        requested.binary = binary->GetBool();
      }
      if (const auto* classes = find_member(*parameters, "classification")) {
        if (!classes->IsUint() || classes->GetUint() == 0) {
          return invalid(label + ": classification must be a positive integer (the number of classes)");
        }
        requested.classification = classes->GetUint();
      }
      auto region = decode_shared_memory_parameters(*parameters, label);
      if (auto* failure = std::get_if<error>(&region)) return std::move(*failure);
      requested.shared_memory = std::get<std::optional<shared_memory_ref>>(std::move(region));
      if (requested.shared_memory && requested.classification > 0) {
        return invalid(label + ": classification results cannot be written to shared memory");
      }
    }
    for (const auto& earlier : request.outputs) {
      if (earlier.name == requested.name) return invalid(label + " is requested twice");
    }
    request.outputs.push_back(std::move(requested));
  }
  return std::nullopt;
}


}  // namespace

std::variant<decoded_infer_request, error> decode_infer_request(std::shared_ptr<const std::string> body,
                                                                std::optional<std::size_t> json_length) {
  auto split = parse_body(std::move(body), json_length, "Inference-Header-Content-Length", "request");
  if (auto* failure = std::get_if<error>(&split)) return std::move(*failure);
  auto& [document, section] = std::get<parsed_body>(split);

  decoded_infer_request request;
  if (const auto* id = find_member(document, "id")) {
    if (!id->IsString()) return invalid("\"id\" must be a string, got " + json_type_name(*id));
    request.id.assign(string_of(*id));
  }
  if (const auto* parameters = find_member(document, "parameters")) {
    if (auto failure = decode_request_parameters(*parameters, request)) return std::move(*failure);
  }

  const auto* inputs = find_member(document, "inputs");
  if (!inputs) return invalid("the request has no \"inputs\"");
  if (!inputs->IsArray()) return invalid("\"inputs\" must be an array, got " + json_type_name(*inputs));
  request.inputs.reserve(inputs->Size());
  for (rapidjson::SizeType i = 0; i < inputs->Size(); ++i) {
    std::optional<shared_memory_ref> region;
    auto decoded = decode_tensor((*inputs)[i], i, section, "input", &region);
    if (auto* failure = std::get_if<error>(&decoded)) return std::move(*failure);
    auto& input = std::get<tensor>(decoded);
    if (region) request.shared_memory_inputs.emplace_back(request.inputs.size(), std::move(*region));
    for (const auto& earlier : request.inputs) {
      if (earlier.name == input.name) return invalid(quoted_label("input", input.name) + " appears twice");
    }
    request.inputs.push_back(std::move(input));
  }
  if (section.used != section.size()) {
    return invalid("the binary section holds " + std::to_string(section.size()) +
                   " bytes but the inputs' binary_data_size values add up to " + std::to_string(section.used));
  }

  if (const auto* outputs = find_member(document, "outputs")) {
    if (auto failure = decode_requested_outputs(*outputs, request)) return std::move(*failure);
  }
  return request;
}

encoded_infer_request encode_infer_request(std::string_view id, const std::vector<tensor>& inputs,
                                           const std::vector<std::string>& requested_outputs,
                                           const std::vector<std::pair<std::string, std::string>>& parameters) {
  std::size_t estimate = 64 + id.size();
  std::size_t binary_size = 0;
  for (const auto& input : inputs) {
    estimate += 96 + input.name.size() + 21 * input.shape.size();
    binary_size += input.data.size();
  }
  for (const auto& name : requested_outputs) estimate += 64 + name.size();
  for (const auto& [key, value] : parameters) estimate += 8 + key.size() + value.size();

  rapidjson::StringBuffer buffer(nullptr, estimate);
  json_writer writer(buffer);
  writer.StartObject();
  if (!id.empty()) {
    writer.Key("id");
    write_string(writer, id);
  }
  writer.Key("inputs");
  writer.StartArray();
  for (const auto& input : inputs) {
    writer.StartObject();
    writer.Key("name");
    write_string(writer, input.name);
    writer.Key("datatype");
    write_string(writer, kserve_name(input.type));
    writer.Key("shape");
    writer.StartArray();
    for (const auto dim : input.shape) writer.Int64(dim);
    writer.EndArray();
    writer.Key("parameters");
    writer.StartObject();
    writer.Key("binary_data_size");
    writer.Uint64(input.data.size());
    writer.EndObject();
    writer.EndObject();
  }
  writer.EndArray();
  if (!requested_outputs.empty()) {
    writer.Key("outputs");
    writer.StartArray();
    for (const auto& name : requested_outputs) {
      writer.StartObject();
      writer.Key("name");
      write_string(writer, name);
      writer.Key("parameters");
      writer.StartObject();
      writer.Key("binary_data");
      writer.Bool(true);
      writer.EndObject();
      writer.EndObject();
    }
    writer.EndArray();
  }
  writer.Key("parameters");
  writer.StartObject();
  writer.Key("binary_data_output");
  writer.Bool(true);
  for (const auto& [key, value] : parameters) {
    write_string(writer, key);
    write_string(writer, value);
  }
  writer.EndObject();
  writer.EndObject();

  encoded_infer_request request;
  request.body.reserve(buffer.GetSize() + binary_size);
  request.body.append(buffer.GetString(), buffer.GetSize());
  request.json_length = request.body.size();
  for (const auto& input : inputs) {
    request.body.append(reinterpret_cast<const char*>(input.data.data()), input.data.size());
  }
  return request;
}

}  // namespace surge::wire
