#include "frontends/grpc/infer_codec.hpp"

#include <algorithm>
#include <charconv>
#include <cstring>
#include <limits>
#include <type_traits>
#include <utility>

#include "core/client_text.hpp"
#include "core/data_type.hpp"
#include "wire/tensor_checks.hpp"

namespace surge::grpc_frontend {

namespace {

using input_tensor = inference::ModelInferRequest::InferInputTensor;
using parameter = inference::InferParameter;

error invalid(std::string message) { return make_error(error_code::invalid_argument, std::move(message)); }

// ---- typed contents ----

// The InferTensorContents field each datatype travels in, as the protocol
// assigns them.
enum class contents_field { bool_, int32, int64, uint32, uint64, fp32, fp64, bytes, none };

contents_field field_for(data_type type) {
  switch (type) {
    case data_type::bool_:
      return contents_field::bool_;
    case data_type::int8:
    case data_type::int16:
    case data_type::int32:
      return contents_field::int32;
    case data_type::int64:
      return contents_field::int64;
    case data_type::uint8:
    case data_type::uint16:
    case data_type::uint32:
      return contents_field::uint32;
    case data_type::uint64:
      return contents_field::uint64;
    case data_type::fp32:
      return contents_field::fp32;
    case data_type::fp64:
      return contents_field::fp64;
    case data_type::bytes:
      return contents_field::bytes;
    case data_type::fp16:
    case data_type::bf16:
    case data_type::invalid:
      break;
  }
  return contents_field::none;
}

std::string_view field_name(contents_field field) {
  switch (field) {
    case contents_field::bool_:
      return "bool_contents";
    case contents_field::int32:
      return "int_contents";
    case contents_field::int64:
      return "int64_contents";
    case contents_field::uint32:
      return "uint_contents";
    case contents_field::uint64:
      return "uint64_contents";
    case contents_field::fp32:
      return "fp32_contents";
    case contents_field::fp64:
      return "fp64_contents";
    case contents_field::bytes:
      return "bytes_contents";
    case contents_field::none:
      break;
  }
  return "no field";
}

int field_size(const inference::InferTensorContents& contents, contents_field field) {
  switch (field) {
    case contents_field::bool_:
      return contents.bool_contents_size();
    case contents_field::int32:
      return contents.int_contents_size();
    case contents_field::int64:
      return contents.int64_contents_size();
    case contents_field::uint32:
      return contents.uint_contents_size();
    case contents_field::uint64:
      return contents.uint64_contents_size();
    case contents_field::fp32:
      return contents.fp32_contents_size();
    case contents_field::fp64:
      return contents.fp64_contents_size();
    case contents_field::bytes:
      return contents.bytes_contents_size();
    case contents_field::none:
      break;
  }
  return 0;
}

constexpr contents_field every_field[] = {contents_field::bool_,  contents_field::int32, contents_field::int64,
                                          contents_field::uint32, contents_field::uint64, contents_field::fp32,
                                          contents_field::fp64,   contents_field::bytes};

// The first field other than `expected` that holds data, if any.
std::optional<contents_field> stray_field(const inference::InferTensorContents& contents, contents_field expected) {
  for (const auto field : every_field) {
    if (field != expected && field_size(contents, field) > 0) return field;
  }
  return std::nullopt;
}

bool has_any_contents(const inference::InferTensorContents& contents) {
  return std::any_of(std::begin(every_field), std::end(every_field),
                     [&](contents_field field) { return field_size(contents, field) > 0; });
}

// Narrows each element to T, refusing values T cannot hold (int_contents
// carries INT8 and INT16 as int32, uint_contents UINT8 and UINT16 as uint32).
template <typename T, typename Source>
std::optional<error> fill_narrowed(const Source& values, std::byte* out, const std::string& label, data_type type) {
  for (int i = 0; i < values.size(); ++i) {
    const auto value = values.Get(i);
    if constexpr (std::is_integral_v<T> && !std::is_same_v<T, std::remove_cv_t<decltype(value)>>) {
      if (!std::in_range<T>(value)) {
        return invalid(label + ": element " + std::to_string(i) + " (" + std::to_string(value) +
                       ") is out of range for " + std::string(kserve_name(type)));
      }
    }
    const auto element = static_cast<T>(value);
    std::memcpy(out + static_cast<std::size_t>(i) * sizeof(T), &element, sizeof(T));
  }
  return std::nullopt;
}

std::optional<error> fill_typed(const inference::InferTensorContents& contents, tensor& t, const std::string& label) {
  std::byte* out = mutable_data(t);
  switch (t.type) {
    case data_type::bool_:
      for (int i = 0; i < contents.bool_contents_size(); ++i) {
        out[i] = static_cast<std::byte>(contents.bool_contents(i) ? 1 : 0);
      }
      return std::nullopt;
    case data_type::int8:
      return fill_narrowed<std::int8_t>(contents.int_contents(), out, label, t.type);
    case data_type::int16:
      return fill_narrowed<std::int16_t>(contents.int_contents(), out, label, t.type);
    case data_type::int32:
      return fill_narrowed<std::int32_t>(contents.int_contents(), out, label, t.type);
    case data_type::int64:
      return fill_narrowed<std::int64_t>(contents.int64_contents(), out, label, t.type);
    case data_type::uint8:
      return fill_narrowed<std::uint8_t>(contents.uint_contents(), out, label, t.type);
    case data_type::uint16:
      return fill_narrowed<std::uint16_t>(contents.uint_contents(), out, label, t.type);
    case data_type::uint32:
      return fill_narrowed<std::uint32_t>(contents.uint_contents(), out, label, t.type);
    case data_type::uint64:
      return fill_narrowed<std::uint64_t>(contents.uint64_contents(), out, label, t.type);
    case data_type::fp32:
      return fill_narrowed<float>(contents.fp32_contents(), out, label, t.type);
    case data_type::fp64:
      return fill_narrowed<double>(contents.fp64_contents(), out, label, t.type);
    case data_type::bytes:
      for (const auto& element : contents.bytes_contents()) {
        wire::store_length_prefix(out, static_cast<std::uint32_t>(element.size()));
        std::memcpy(out + sizeof(std::uint32_t), element.data(), element.size());
        out += sizeof(std::uint32_t) + element.size();
      }
      return std::nullopt;
    case data_type::fp16:
    case data_type::bf16:
    case data_type::invalid:
      break;
  }
  return std::nullopt;
}

std::variant<tensor, error> tensor_from_contents(tensor header, std::size_t count, const input_tensor& input,
                                                 const std::string& label) {
  const auto field = field_for(header.type);
  if (field == contents_field::none) {
    return invalid(label + ": " + std::string(kserve_name(header.type)) +
                   " data must be sent in raw_input_contents (InferTensorContents has no field for it)");
  }
  const auto& contents = input.contents();
  if (auto stray = stray_field(contents, field)) {
    return invalid(label + ": " + std::string(kserve_name(header.type)) + " data goes in " +
                   std::string(field_name(field)) + ", but " + std::string(field_name(*stray)) + " is set");
  }
  const auto given = static_cast<std::size_t>(field_size(contents, field));
  if (given != count) {
    return invalid(label + ": shape " + wire::shape_text(header.shape) + " needs " + std::to_string(count) + " elements, " +
                   std::string(field_name(field)) + " has " + std::to_string(given));
  }

  std::size_t byte_size = count * element_size(header.type);
  if (header.type == data_type::bytes) {
    byte_size = 0;
    for (const auto& element : contents.bytes_contents()) {
      if (element.size() > std::numeric_limits<std::uint32_t>::max()) {
        return invalid(label + ": a BYTES element is longer than 4 GiB");
      }
      byte_size += sizeof(std::uint32_t) + element.size();
    }
  }
  auto result = make_owned_tensor(std::move(header.name), header.type, std::move(header.shape), byte_size);
  if (auto failure = fill_typed(contents, result, label)) return std::move(*failure);
  return result;
}

// ---- raw contents ----

std::variant<tensor, error> tensor_from_raw(tensor header, std::size_t count, const std::string& raw,
                                            std::size_t position, const std::shared_ptr<const void>& owner,
                                            const std::string& label) {
  const std::string where = "raw_input_contents[" + std::to_string(position) + "]";
  const std::span<const std::byte> data(reinterpret_cast<const std::byte*>(raw.data()), raw.size());
  if (header.type == data_type::bytes) {
    const auto problem = wire::bytes_elements_problem(data, count, where, where);
    if (!problem.empty()) return invalid(label + ": " + problem);
  } else {
    const std::size_t expected = count * element_size(header.type);
    if (data.size() != expected) {
      return invalid(label + ": " + where + " holds " + std::to_string(data.size()) + " bytes, but shape " +
                     wire::shape_text(header.shape) + " of " + std::string(kserve_name(header.type)) + " needs " +
                     std::to_string(expected));
    }
  }
  header.data = data;
  header.owner = owner;
  return header;
}

std::optional<std::uint64_t> unsigned_value(const parameter& p);

// A tensor's shared_memory_region, _offset and _byte_size parameters;
// nullopt when it names no region.
std::variant<std::optional<shared_memory_ref>, error> shared_memory_of(
    const google::protobuf::Map<std::string, parameter>& parameters, const std::string& label) {
  const auto region = parameters.find("shared_memory_region");
  if (region == parameters.end()) return std::optional<shared_memory_ref>{};
  if (region->second.parameter_choice_case() != parameter::kStringParam || region->second.string_param().empty()) {
    return invalid(label + ": shared_memory_region must be a non-empty string_param");
  }
  shared_memory_ref ref;
  ref.region = region->second.string_param();
  const auto size = parameters.find("shared_memory_byte_size");
  if (size == parameters.end()) return invalid(label + ": names a shared_memory_region but no shared_memory_byte_size");
  const auto byte_size = unsigned_value(size->second);
  if (!byte_size) return invalid(label + ": shared_memory_byte_size must be a non-negative integer");
  ref.byte_size = *byte_size;
  if (const auto offset = parameters.find("shared_memory_offset"); offset != parameters.end()) {
    const auto value = unsigned_value(offset->second);
    if (!value) return invalid(label + ": shared_memory_offset must be a non-negative integer");
    ref.offset = *value;
  }
  return std::optional<shared_memory_ref>(std::move(ref));
}

// `raw_position`: this input's entry in raw_input_contents, which holds one
// entry per input that is not in shared memory.
std::variant<tensor, error> decode_input(const inference::ModelInferRequest& message, int position,
                                         int raw_position, const std::shared_ptr<const void>& owner,
                                         std::optional<shared_memory_ref>& shared_memory) {
  const auto& input = message.inputs(position);
  if (input.name().empty()) return invalid("inputs[" + std::to_string(position) + "] has no name");
  const std::string label = wire::quoted_label("input", input.name());

  tensor header;
  header.name = input.name();
  if (input.datatype().empty()) return invalid(label + ": missing datatype");
  const auto type = parse_kserve_data_type(input.datatype());
  if (!type) return invalid(label + ": unknown datatype '" + client_text(input.datatype()) + "'");
  header.type = *type;
  header.shape.assign(input.shape().begin(), input.shape().end());
  auto counted = wire::checked_element_count(label, header.shape, header.type);
  if (auto* failure = std::get_if<error>(&counted)) return std::move(*failure);
  const auto count = std::get<std::size_t>(counted);

  auto region = shared_memory_of(input.parameters(), label);
  if (auto* failure = std::get_if<error>(&region)) return std::move(*failure);
  shared_memory = std::get<std::optional<shared_memory_ref>>(std::move(region));
  if (shared_memory) {
    if (input.has_contents() && has_any_contents(input.contents())) {
      return invalid(label + ": names a shared_memory_region and also carries contents; send one");
    }
    return header;
  }

  const bool raw = message.raw_input_contents_size() > 0;
  if (raw) {
    if (input.has_contents() && has_any_contents(input.contents())) {
      return invalid(label + ": has contents while the request uses raw_input_contents; send every input one way");
    }
    return tensor_from_raw(std::move(header), count, message.raw_input_contents(raw_position),
                           static_cast<std::size_t>(raw_position), owner, label);
  }
  if (!input.has_contents() || !has_any_contents(input.contents())) {
    // An empty tensor carries no elements in any field; that is valid data.
    if (count == 0 && field_for(header.type) != contents_field::none) {
      return make_owned_tensor(std::move(header.name), header.type, std::move(header.shape), 0);
    }
    return invalid(label + ": no data: set contents, or send every input in raw_input_contents");
  }
  return tensor_from_contents(std::move(header), count, input, label);
}

// ---- parameters ----

std::optional<std::uint64_t> unsigned_value(const parameter& p) {
  if (p.parameter_choice_case() == parameter::kUint64Param) return p.uint64_param();
  if (p.parameter_choice_case() == parameter::kInt64Param && p.int64_param() >= 0) {
    return static_cast<std::uint64_t>(p.int64_param());
  }
  return std::nullopt;
}

std::optional<double> number_value(const parameter& p) {
  switch (p.parameter_choice_case()) {
    case parameter::kDoubleParam: return p.double_param();
    case parameter::kInt64Param: return static_cast<double>(p.int64_param());
    case parameter::kUint64Param: return static_cast<double>(p.uint64_param());
    default: return std::nullopt;
  }
}

// The sampling fields the OpenAI and KServe generate endpoints take, as
// request parameters, for generative models reached over gRPC.
template <typename Map>
std::optional<error> decode_sampling(const Map& parameters, decoded_infer_request& request) {
  sampling_parameters sampling;
  bool any = false;
  const auto find = [&](const char* key) -> const parameter* {
    const auto it = parameters.find(key);
    if (it == parameters.end()) return nullptr;
    any = true;
    return &it->second;
  };
  if (const auto* p = find("max_tokens")) {
    const auto value = unsigned_value(*p);
    if (!value || *value < 1 || *value > std::numeric_limits<std::uint32_t>::max()) {
      return invalid("parameters.max_tokens must be a positive integer");
    }
    sampling.max_tokens = static_cast<std::uint32_t>(*value);
  }
  if (const auto* p = find("temperature")) {
    const auto value = number_value(*p);
    if (!value || !(*value >= 0.0)) return invalid("parameters.temperature must be a number >= 0");
    sampling.temperature = static_cast<float>(*value);
  }
  if (const auto* p = find("top_p")) {
    const auto value = number_value(*p);
    if (!value || !(*value > 0.0) || *value > 1.0) return invalid("parameters.top_p must be in (0, 1]");
    sampling.top_p = static_cast<float>(*value);
  }
  if (const auto* p = find("top_k")) {
    const auto value = unsigned_value(*p);
    if (!value || *value > std::numeric_limits<std::uint32_t>::max()) {
      return invalid("parameters.top_k must be a non-negative integer");
    }
    sampling.top_k = static_cast<std::uint32_t>(*value);
  }
  if (const auto* p = find("seed")) {
    const auto value = unsigned_value(*p);
    if (!value) return invalid("parameters.seed must be a non-negative integer");
    sampling.seed = *value;
  }
  if (const auto* p = find("stop")) {
    if (p->parameter_choice_case() != parameter::kStringParam) return invalid("parameters.stop must be a string_param");
    sampling.stop.push_back(p->string_param());
  }
  if (const auto* p = find("ignore_eos")) {
    if (p->parameter_choice_case() != parameter::kBoolParam) return invalid("parameters.ignore_eos must be a bool_param");
    sampling.ignore_eos = p->bool_param();
  }
  if (any) request.sampling = std::move(sampling);
  return std::nullopt;
}

std::optional<error> decode_parameters(const inference::ModelInferRequest& message, decoded_infer_request& request) {
  const auto& parameters = message.parameters();
  if (const auto it = parameters.find("priority"); it != parameters.end()) {
    const auto value = unsigned_value(it->second);
    if (!value || *value > std::numeric_limits<std::uint32_t>::max()) {
      return invalid("parameters.priority must be an integer from 0 to " +
                     std::to_string(std::numeric_limits<std::uint32_t>::max()) + " (uint64_param or int64_param)");
    }
    request.priority = static_cast<std::uint32_t>(*value);
  }
  if (const auto it = parameters.find("timeout"); it != parameters.end()) {
    using rep = std::chrono::microseconds::rep;
    const auto value = unsigned_value(it->second);
    if (!value || *value > static_cast<std::uint64_t>(std::numeric_limits<rep>::max())) {
      return invalid("parameters.timeout must be a non-negative integer number of microseconds (int64_param)");
    }
    request.timeout = std::chrono::microseconds(static_cast<rep>(*value));
  }
  if (auto failure = decode_sampling(parameters, request)) return failure;
  if (const auto it = parameters.find("triton_enable_empty_final_response"); it != parameters.end()) {
    if (it->second.parameter_choice_case() != parameter::kBoolParam) {
      return invalid("parameters.triton_enable_empty_final_response must be a bool_param");
    }
    request.enable_empty_final_response = it->second.bool_param();
  }
  for (const auto& [key, value] : parameters) {
    if (key == "priority" || key == "timeout" || key == "triton_enable_empty_final_response") continue;
    switch (value.parameter_choice_case()) {
      case parameter::kStringParam: request.parameters.emplace_back(key, value.string_param()); break;
      case parameter::kBoolParam: request.parameters.emplace_back(key, value.bool_param() ? "true" : "false"); break;
      case parameter::kInt64Param: request.parameters.emplace_back(key, std::to_string(value.int64_param())); break;
      case parameter::kUint64Param: request.parameters.emplace_back(key, std::to_string(value.uint64_param())); break;
      case parameter::kDoubleParam: {
        char text[32];
        const auto end = std::to_chars(text, text + sizeof text, value.double_param()).ptr;
        request.parameters.emplace_back(key, std::string(text, end));
        break;
      }
      default: break;
    }
  }
  // A map's order is unspecified; the backend sees them sorted by key.
  std::sort(request.parameters.begin(), request.parameters.end());
  return std::nullopt;
}

std::optional<error> decode_outputs(const inference::ModelInferRequest& message, decoded_infer_request& request) {
  request.outputs.reserve(static_cast<std::size_t>(message.outputs_size()));
  for (int i = 0; i < message.outputs_size(); ++i) {
    const auto& output = message.outputs(i);
    if (output.name().empty()) return invalid("outputs[" + std::to_string(i) + "] has no name");
    const std::string label = wire::quoted_label("output", output.name());
    if (const auto it = output.parameters().find("classification"); it != output.parameters().end()) {
      // tritonclient sends class_count as an int64 parameter.
      const auto count = unsigned_value(it->second);
      if (!count || *count == 0 || *count > std::numeric_limits<std::uint32_t>::max()) {
        return invalid(label + ": classification must be a positive integer (the number of classes)");
      }
      request.classifications.emplace_back(output.name(), static_cast<std::uint32_t>(*count));
    }
    auto region = shared_memory_of(output.parameters(), label);
    if (auto* failure = std::get_if<error>(&region)) return std::move(*failure);
    if (auto& ref = std::get<std::optional<shared_memory_ref>>(region)) {
      if (output.parameters().contains("classification")) {
        return invalid(label + ": classification results cannot be written to shared memory");
      }
      request.shared_memory_outputs.emplace_back(output.name(), std::move(*ref));
    }
    if (std::find(request.outputs.begin(), request.outputs.end(), output.name()) != request.outputs.end()) {
      return invalid(label + " is requested twice");
    }
    request.outputs.push_back(output.name());
  }
  return std::nullopt;
}

}  // namespace

std::variant<decoded_infer_request, error> decode_infer_request(const inference::ModelInferRequest& message,
                                                                std::shared_ptr<const void> owner) {
  decoded_infer_request request;
  request.id = message.id();
  if (auto failure = decode_parameters(message, request)) return std::move(*failure);

  int in_shared_memory = 0;
  for (const auto& input : message.inputs()) in_shared_memory += input.parameters().contains("shared_memory_region");
  const int carried = message.inputs_size() - in_shared_memory;
  if (message.raw_input_contents_size() > 0 && message.raw_input_contents_size() != carried) {
    return invalid("raw_input_contents has " + std::to_string(message.raw_input_contents_size()) + " entries for " +
                   std::to_string(carried) + " inputs not in shared memory: send every such input raw, or none");
  }
  request.inputs.reserve(static_cast<std::size_t>(message.inputs_size()));
  int raw_position = 0;
  for (int i = 0; i < message.inputs_size(); ++i) {
    std::optional<shared_memory_ref> region;
    auto decoded = decode_input(message, i, raw_position, owner, region);
    if (auto* failure = std::get_if<error>(&decoded)) return std::move(*failure);
    auto& input = std::get<tensor>(decoded);
    if (region) request.shared_memory_inputs.emplace_back(request.inputs.size(), std::move(*region));
    else ++raw_position;
    for (const auto& earlier : request.inputs) {
      if (earlier.name == input.name) return invalid(wire::quoted_label("input", input.name) + " appears twice");
    }
    request.inputs.push_back(std::move(input));
  }
  if (auto failure = decode_outputs(message, request)) return std::move(*failure);
  return request;
}

void encode_infer_response(std::string_view model_name, std::int64_t model_version, std::string_view id,
                           const std::vector<tensor>& outputs, const std::vector<std::string>& requested,
                           inference::ModelInferResponse& response,
                           const std::vector<std::pair<std::string, shared_memory_ref>>& shared_memory_outputs) {
  response.set_model_name(std::string(model_name));
  response.set_model_version(std::to_string(model_version));
  if (!id.empty()) response.set_id(std::string(id));

  const auto add = [&response, &shared_memory_outputs](const tensor& output) {
    auto* metadata = response.add_outputs();
    metadata->set_name(output.name);
    metadata->set_datatype(std::string(kserve_name(output.type)));
    for (const auto dim : output.shape) metadata->add_shape(dim);
    const auto shared = std::find_if(shared_memory_outputs.begin(), shared_memory_outputs.end(),
                                     [&output](const auto& entry) { return entry.first == output.name; });
    if (shared != shared_memory_outputs.end()) {
      auto& parameters = *metadata->mutable_parameters();
      parameters["shared_memory_region"].set_string_param(shared->second.region);
      parameters["shared_memory_byte_size"].set_int64_param(static_cast<std::int64_t>(output.data.size()));
      response.add_raw_output_contents();
      return;
    }
    response.add_raw_output_contents()->assign(reinterpret_cast<const char*>(output.data.data()), output.data.size());
  };
  if (requested.empty()) {
    for (const auto& output : outputs) add(output);
    return;
  }
  for (const auto& name : requested) {
    const auto it = std::find_if(outputs.begin(), outputs.end(), [&name](const tensor& t) { return t.name == name; });
    if (it != outputs.end()) add(*it);
  }
}

std::variant<std::optional<std::int64_t>, error> parse_model_version(std::string_view text) {
  if (text.empty()) return std::optional<std::int64_t>{};
  std::int64_t value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc{} || end != text.data() + text.size() || value < 1) {
    return invalid("model version '" + client_text(text) + "' is not a positive integer");
  }
  return std::optional<std::int64_t>{value};
}

}  // namespace surge::grpc_frontend
