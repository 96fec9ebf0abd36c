#include "wire/kserve_response.hpp"

#include <algorithm>
#include <utility>

#include "wire/json_tensor_reader.hpp"
#include "wire/json_tensor_writer.hpp"
#include "wire/json_text.hpp"

namespace surge::wire {

namespace {

struct selected_output {
  const tensor* output;
  bool binary;
  const shared_memory_ref* shared_memory{nullptr};  // written there by the frontend; no data here
};


}  // namespace

std::variant<decoded_infer_response, error> decode_infer_response(std::shared_ptr<const std::string> body,
                                                                  std::optional<std::size_t> json_length) {
  auto split = parse_body(std::move(body), json_length, "header length", "response");
  if (auto* failure = std::get_if<error>(&split)) return std::move(*failure);
  auto& [document, section] = std::get<parsed_body>(split);

  decoded_infer_response response;
  if (const auto* id = find_member(document, "id"); id && id->IsString()) response.id.assign(string_of(*id));
  const auto* outputs = find_member(document, "outputs");
  if (!outputs) return invalid("the response has no \"outputs\"");
  if (!outputs->IsArray()) return invalid("\"outputs\" must be an array, got " + json_type_name(*outputs));
  response.outputs.reserve(outputs->Size());
  for (rapidjson::SizeType i = 0; i < outputs->Size(); ++i) {
    auto decoded = decode_tensor((*outputs)[i], i, section, "output");
    if (auto* failure = std::get_if<error>(&decoded)) return std::move(*failure);
    response.outputs.push_back(std::get<tensor>(std::move(decoded)));
  }
  if (section.used != section.size()) {
    return invalid("the binary section holds " + std::to_string(section.size()) +
                   " bytes but the outputs' binary_data_size values add up to " + std::to_string(section.used));
  }
  return response;
}

encoded_infer_response encode_infer_response(std::string_view model_name, std::int64_t model_version,
                                             std::string_view id, const std::vector<tensor>& outputs,
                                             const std::vector<requested_output>& requested,
                                             bool binary_outputs_default) {
  std::vector<selected_output> selected;
  if (requested.empty()) {
    selected.reserve(outputs.size());
    for (const auto& output : outputs) selected.push_back({&output, binary_outputs_default});
  } else {
    selected.reserve(requested.size());
    for (const auto& wanted : requested) {
      const auto it = std::find_if(outputs.begin(), outputs.end(),
                                   [&wanted](const tensor& output) { return output.name == wanted.name; });
      if (it == outputs.end()) continue;
      const auto* region = wanted.shared_memory ? &*wanted.shared_memory : nullptr;
      selected.push_back({&*it, wanted.binary && !region, region});
    }
  }

  std::size_t estimate = 128 + model_name.size() + id.size();
  std::size_t binary_size = 0;
  bool any_binary = false;
  for (const auto& [output, binary, region] : selected) {
    estimate += 96 + output->name.size() + 21 * output->shape.size();
    if (region) {
      estimate += 64 + region->region.size();
    } else if (binary) {
      any_binary = true;
      binary_size += output->data.size();
    } else if (output->type == data_type::bytes) {
      estimate +=
          output->data.size() + 2 * static_cast<std::size_t>(std::max<std::int64_t>(output->element_count(), 0));
    } else {
      const std::size_t width = std::max<std::size_t>(element_size(output->type), 1);
      estimate += json_chars_per_element(output->type) * (output->data.size() / width);
    }
  }

  rapidjson::StringBuffer buffer(nullptr, estimate);
  json_writer writer(buffer);
  writer.StartObject();
  writer.Key("model_name");
  write_string(writer, model_name);
  writer.Key("model_version");
  write_string(writer, std::to_string(model_version));
  if (!id.empty()) {
    writer.Key("id");
    write_string(writer, id);
  }
  writer.Key("outputs");
  writer.StartArray();
  for (const auto& [output, binary, region] : selected) {
    writer.StartObject();
    writer.Key("name");
    write_string(writer, output->name);
    writer.Key("datatype");
    write_string(writer, kserve_name(output->type));
    writer.Key("shape");
    writer.StartArray();
    for (const auto dim : output->shape) writer.Int64(dim);
    writer.EndArray();
    if (region) {
      writer.Key("parameters");
      writer.StartObject();
      writer.Key("shared_memory_region");
      write_string(writer, region->region);
      writer.Key("shared_memory_byte_size");
      writer.Uint64(output->data.size());
      writer.EndObject();
    } else if (binary) {
      writer.Key("parameters");
      writer.StartObject();
      writer.Key("binary_data_size");
      writer.Uint64(output->data.size());
      writer.EndObject();
    } else if (output->type == data_type::bytes) {
      writer.Key("data");
      writer.StartArray();
      for_each_bytes_element(output->data, [&writer](const char* text, std::uint32_t length) {
        writer.String(text, static_cast<rapidjson::SizeType>(length));
      });
      writer.EndArray();
    } else {
      // The writer takes the array as one raw value and writes its '['; the
      // elements go straight into the buffer, without the writer's per-value
      // bookkeeping for each element of a possibly large tensor.
      writer.Key("data");
      writer.RawValue("[", 1, rapidjson::kArrayType);
      append_numbers_tail(buffer, *output);
    }
    writer.EndObject();
  }
  writer.EndArray();
  writer.EndObject();

  encoded_infer_response response;
  response.body.reserve(buffer.GetSize() + binary_size);
  response.body.append(buffer.GetString(), buffer.GetSize());
  if (any_binary) {
    response.json_length = response.body.size();
    for (const auto& [output, binary, region] : selected) {
      if (binary) response.body.append(reinterpret_cast<const char*>(output->data.data()), output->data.size());
    }
  }
  return response;
}

std::string encode_error(std::string_view message) {
  rapidjson::StringBuffer buffer(nullptr, message.size() + 16);
  json_writer writer(buffer);
  writer.StartObject();
  writer.Key("error");
  write_string(writer, message);
  writer.EndObject();
  return std::string(buffer.GetString(), buffer.GetSize());
}

}  // namespace surge::wire
