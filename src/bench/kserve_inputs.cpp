#include "bench/kserve_inputs.hpp"

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <bit>
#include <charconv>
#include <cstring>
#include <memory>
#include <random>
#include <variant>

#include "wire/half_float.hpp"
#include "wire/kserve_request.hpp"
#include "wire/kserve_response.hpp"

namespace surge::bench {

// Binary tensors go on the wire little-endian, copied with memcpy.
static_assert(std::endian::native == std::endian::little, "surge assumes a little-endian host");

namespace {

using json_writer = rapidjson::Writer<rapidjson::StringBuffer>;
using json_value = rapidjson::Value;

constexpr unsigned parse_flags = rapidjson::kParseFullPrecisionFlag | rapidjson::kParseNanAndInfFlag;

std::string shape_text(const std::vector<std::int64_t>& shape) {
  std::string text = "[";
  for (std::size_t i = 0; i < shape.size(); ++i) {
    if (i != 0) text += ',';
    text += std::to_string(shape[i]);
  }
  return text + "]";
}

std::int64_t element_count(const std::vector<std::int64_t>& shape) {
  std::int64_t n = 1;
  for (auto d : shape) n *= d;
  return n;
}

const json_value* member(const json_value& object, const char* key) {
  if (!object.IsObject()) return nullptr;
  const auto it = object.FindMember(key);
  return it == object.MemberEnd() ? nullptr : &it->value;
}

void write_string(json_writer& w, std::string_view s) {
  w.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
}

void write_shape(json_writer& w, const std::vector<std::int64_t>& shape) {
  w.StartArray();
  for (auto d : shape) w.Int64(d);
  w.EndArray();
}

// ---- random values ----

// One generator for a whole body; each input draws its values in order, so a
// seed always gives the same bytes.
class value_source {
 public:
  explicit value_source(std::uint64_t seed) : random_(seed) {}

  float unit_float() { return std::uniform_real_distribution<float>(0.0f, 1.0f)(random_); }
  double unit_double() { return std::uniform_real_distribution<double>(0.0, 1.0)(random_); }
  // Multiples of 1/256 are exact in FP16 and BF16, so JSON and binary bodies
  // carry the same values and the JSON text stays short.
  double unit_half() { return static_cast<double>(small_integer(256)) / 256.0; }
  std::int64_t small_integer(std::int64_t bound = 100) {
    return std::uniform_int_distribution<std::int64_t>(0, bound - 1)(random_);
  }
  bool boolean() { return (random_() & 1) != 0; }
  std::string text(std::size_t length) {
    static constexpr std::string_view alphabet = "abcdefghijklmnopqrstuvwxyz0123456789";
    std::string s(length, ' ');
    for (auto& c : s) c = alphabet[static_cast<std::size_t>(small_integer(alphabet.size()))];
    return s;
  }

 private:
  std::mt19937_64 random_;
};

template <typename T>
void append_raw(std::string& out, T value) {
  char bytes[sizeof(T)];
  std::memcpy(bytes, &value, sizeof(T));
  out.append(bytes, sizeof(T));
}

template <typename T>
void write_float_text(json_writer& w, T value) {
  char text[32];
  const auto end = std::to_chars(text, text + sizeof text, value).ptr;
  w.RawValue(text, static_cast<std::size_t>(end - text), rapidjson::kNumberType);
}

// Appends `count` random elements of `type` to the binary section `out`, or
// writes them into the JSON "data" array `w`; exactly one of the two is set.
void emit_values(data_type type, std::int64_t count, std::size_t string_length, value_source& values, std::string* out,
                 json_writer* w) {
  for (std::int64_t i = 0; i < count; ++i) {
    switch (type) {
      case data_type::bool_: {
        const bool b = values.boolean();
        if (out) append_raw<std::uint8_t>(*out, b ? 1 : 0);
        if (w) w->Bool(b);
        break;
      }
      case data_type::uint8:
      case data_type::uint16:
      case data_type::uint32:
      case data_type::uint64:
      case data_type::int8:
      case data_type::int16:
      case data_type::int32:
      case data_type::int64: {
        const auto v = values.small_integer();
        if (w) w->Int64(v);
        if (out) {
          switch (type) {
            case data_type::uint8: append_raw(*out, static_cast<std::uint8_t>(v)); break;
            case data_type::uint16: append_raw(*out, static_cast<std::uint16_t>(v)); break;
            case data_type::uint32: append_raw(*out, static_cast<std::uint32_t>(v)); break;
            case data_type::uint64: append_raw(*out, static_cast<std::uint64_t>(v)); break;
            case data_type::int8: append_raw(*out, static_cast<std::int8_t>(v)); break;
            case data_type::int16: append_raw(*out, static_cast<std::int16_t>(v)); break;
            case data_type::int32: append_raw(*out, static_cast<std::int32_t>(v)); break;
            default: append_raw(*out, v); break;
          }
        }
        break;
      }
      case data_type::fp16:
      case data_type::bf16: {
        const double v = values.unit_half();
        if (out) append_raw(*out, type == data_type::fp16 ? wire::fp16_from_double(v) : wire::bf16_from_double(v));
        if (w) write_float_text(*w, v);
        break;
      }
      case data_type::fp32: {
        const float v = values.unit_float();
        if (out) append_raw(*out, v);
        if (w) write_float_text(*w, v);
        break;
      }
      case data_type::fp64: {
        const double v = values.unit_double();
        if (out) append_raw(*out, v);
        if (w) write_float_text(*w, v);
        break;
      }
      case data_type::bytes: {
        const auto s = values.text(string_length);
        if (out) {
          append_raw(*out, static_cast<std::uint32_t>(s.size()));
          out->append(s);
        }
        if (w) write_string(*w, s);
        break;
      }
      case data_type::invalid:
        break;
    }
  }
}

std::int64_t rows_of(const std::vector<std::int64_t>& shape, bool batching) {
  return batching && !shape.empty() ? shape.front() : 1;
}

}  // namespace

parsed<model_metadata> parse_model_metadata(std::string_view json) {
  rapidjson::Document document;
  document.Parse<parse_flags>(json.data(), json.size());
  if (document.HasParseError() || !document.IsObject()) return std::string("model metadata is not a JSON object");
  model_metadata metadata;
  if (const auto* name = member(document, "name"); name && name->IsString()) metadata.name = name->GetString();
  if (const auto* versions = member(document, "versions"); versions && versions->IsArray()) {
    for (const auto& v : versions->GetArray()) {
      if (v.IsString()) metadata.versions.emplace_back(v.GetString());
    }
  }
  const auto* inputs = member(document, "inputs");
  if (!inputs || !inputs->IsArray()) return std::string("model metadata has no \"inputs\" array");
  for (const auto& input : inputs->GetArray()) {
    const auto* name = member(input, "name");
    const auto* datatype = member(input, "datatype");
    const auto* shape = member(input, "shape");
    if (!name || !name->IsString() || !datatype || !datatype->IsString() || !shape || !shape->IsArray()) {
      return std::string("model metadata has an input without a name, datatype and shape");
    }
    input_spec spec;
    spec.name = name->GetString();
    const auto type = parse_kserve_data_type(datatype->GetString());
    if (!type) return "input '" + spec.name + "' has unknown datatype '" + datatype->GetString() + "'";
    spec.type = *type;
    for (const auto& d : shape->GetArray()) {
      if (!d.IsInt64() || d.GetInt64() < -1) return "input '" + spec.name + "' has a malformed shape";
      spec.shape.push_back(d.GetInt64());
    }
    metadata.inputs.push_back(std::move(spec));
  }
  if (metadata.inputs.empty()) return std::string("model metadata lists no inputs");
  return metadata;
}

std::optional<std::int64_t> parse_max_batch_size(std::string_view json) {
  rapidjson::Document document;
  document.Parse<parse_flags>(json.data(), json.size());
  if (document.HasParseError()) return std::nullopt;
  // Triton answers the config itself; some servers wrap it in {"config": ...}.
  const json_value* config = &document;
  if (const auto* wrapped = member(document, "config"); wrapped && wrapped->IsObject()) config = wrapped;
  const auto* value = member(*config, "max_batch_size");
  if (!value) return config->IsObject() ? std::optional<std::int64_t>(0) : std::nullopt;  // proto3 omits zero
  if (value->IsInt64()) return value->GetInt64();
  if (value->IsString()) {
    std::int64_t parsed_value = 0;
    const std::string_view text(value->GetString(), value->GetStringLength());
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), parsed_value);
    if (ec == std::errc{} && end == text.data() + text.size()) return parsed_value;
  }
  return std::nullopt;
}

parsed<std::vector<input_spec>> resolve_shapes(const std::vector<input_spec>& inputs, bool batching,
                                               std::int64_t rows, const std::vector<shape_override>& overrides) {
  for (const auto& o : overrides) {
    const bool known = std::any_of(inputs.begin(), inputs.end(), [&](const auto& in) { return in.name == o.input; });
    if (!known) return "--shape names '" + o.input + "', which is not an input of the model";
  }
  std::vector<input_spec> resolved;
  for (const auto& input : inputs) {
    input_spec spec = input;
    const auto o =
        std::find_if(overrides.begin(), overrides.end(), [&](const auto& x) { return x.input == input.name; });
    if (o != overrides.end()) {
      std::vector<std::int64_t> dims = o->dims;
      if (batching && dims.size() + 1 == input.shape.size()) dims.insert(dims.begin(), rows);
      if (dims.size() != input.shape.size()) {
        return "--shape " + input.name + " has " + std::to_string(o->dims.size()) + " dimensions; the model's shape " +
               shape_text(input.shape) + " has " + std::to_string(input.shape.size());
      }
      for (std::size_t i = 0; i < dims.size(); ++i) {
        if (input.shape[i] != -1 && input.shape[i] != dims[i]) {
          return "--shape " + input.name + "=" + shape_text(dims) + " does not fit the model's shape " +
                 shape_text(input.shape);
        }
      }
      spec.shape = std::move(dims);
    } else {
      for (std::size_t i = 0; i < spec.shape.size(); ++i) {
        if (spec.shape[i] == -1) spec.shape[i] = batching && i == 0 ? rows : 1;
      }
    }
    resolved.push_back(std::move(spec));
  }
  return resolved;
}

request_body synthesize_request(const std::vector<input_spec>& inputs, bool batching,
                                const synthesis_options& options) {
  value_source values(options.seed);
  rapidjson::StringBuffer buffer;
  json_writer w(buffer);
  std::string binary_section;
  w.StartObject();
  w.Key("inputs");
  w.StartArray();
  for (const auto& input : inputs) {
    w.StartObject();
    w.Key("name");
    write_string(w, input.name);
    w.Key("shape");
    write_shape(w, input.shape);
    w.Key("datatype");
    write_string(w, kserve_name(input.type));
    const auto count = element_count(input.shape);
    if (options.binary) {
      const auto before = binary_section.size();
      emit_values(input.type, count, options.string_length, values, &binary_section, nullptr);
      w.Key("parameters");
      w.StartObject();
      w.Key("binary_data_size");
      w.Uint64(binary_section.size() - before);
      w.EndObject();
    } else {
      w.Key("data");
      w.StartArray();
      emit_values(input.type, count, options.string_length, values, nullptr, &w);
      w.EndArray();
    }
    w.EndObject();
  }
  w.EndArray();
  if (options.binary) {
    w.Key("parameters");
    w.StartObject();
    w.Key("binary_data_output");
    w.Bool(true);
    w.EndObject();
  }
  w.EndObject();

  request_body body;
  body.bytes.assign(buffer.GetString(), buffer.GetSize());
  if (options.binary) {
    body.json_length = body.bytes.size();
    body.bytes += binary_section;
  }
  body.rows = inputs.empty() ? 1 : rows_of(inputs.front().shape, batching);
  body.inputs = inputs;
  return body;
}

parsed<request_body> request_from_file(const std::string& contents, bool batching, bool binary) {
  // The server's own decoder: whatever it accepts here, it accepts on the wire.
  auto decoded = wire::decode_infer_request(std::make_shared<const std::string>(contents), std::nullopt);
  if (auto* failure = std::get_if<error>(&decoded)) return "not a KServe v2 infer request: " + failure->message;
  const auto& request = std::get<wire::decoded_infer_request>(decoded);
  if (request.inputs.empty()) return std::string("the request has no inputs");

  request_body body;
  body.rows = rows_of(request.inputs.front().shape, batching);
  for (const auto& input : request.inputs) body.inputs.push_back({input.name, input.type, input.shape});
  if (!binary) {
    body.bytes = contents;
    return body;
  }

  rapidjson::Document original;
  original.Parse<parse_flags>(contents.data(), contents.size());
  rapidjson::StringBuffer buffer;
  json_writer w(buffer);
  std::string binary_section;
  w.StartObject();
  if (const auto* id = member(original, "id")) {
    w.Key("id");
    id->Accept(w);
  }
  w.Key("inputs");
  w.StartArray();
  for (const auto& input : request.inputs) {
    w.StartObject();
    w.Key("name");
    write_string(w, input.name);
    w.Key("shape");
    write_shape(w, input.shape);
    w.Key("datatype");
    write_string(w, kserve_name(input.type));
    w.Key("parameters");
    w.StartObject();
    w.Key("binary_data_size");
    w.Uint64(input.data.size());
    w.EndObject();
    w.EndObject();
    binary_section.append(reinterpret_cast<const char*>(input.data.data()), input.data.size());
  }
  w.EndArray();
  if (const auto* outputs = member(original, "outputs")) {
    w.Key("outputs");
    outputs->Accept(w);
  }
  w.Key("parameters");
  w.StartObject();
  if (const auto* parameters = member(original, "parameters"); parameters && parameters->IsObject()) {
    for (const auto& p : parameters->GetObject()) {
      if (std::string_view(p.name.GetString()) == "binary_data_output") continue;
      p.name.Accept(w);
      p.value.Accept(w);
    }
  }
  w.Key("binary_data_output");
  w.Bool(true);
  w.EndObject();
  w.EndObject();

  body.bytes.assign(buffer.GetString(), buffer.GetSize());
  body.json_length = body.bytes.size();
  body.bytes += binary_section;
  return body;
}

std::size_t raw_request::byte_size() const {
  std::size_t total = 0;
  for (const auto& tensor : tensors) total += tensor.size();
  return total;
}

raw_request synthesize_raw_request(const std::vector<input_spec>& inputs, bool batching,
                                   const synthesis_options& options) {
  value_source values(options.seed);
  raw_request request;
  request.inputs = inputs;
  for (const auto& input : inputs) {
    auto& bytes = request.tensors.emplace_back();
    emit_values(input.type, element_count(input.shape), options.string_length, values, &bytes, nullptr);
  }
  request.rows = inputs.empty() ? 1 : rows_of(inputs.front().shape, batching);
  return request;
}

parsed<raw_request> raw_request_from_file(const std::string& contents, bool batching) {
  auto decoded = wire::decode_infer_request(std::make_shared<const std::string>(contents), std::nullopt);
  if (auto* failure = std::get_if<error>(&decoded)) return "not a KServe v2 infer request: " + failure->message;
  const auto& request = std::get<wire::decoded_infer_request>(decoded);
  if (request.inputs.empty()) return std::string("the request has no inputs");

  raw_request raw;
  for (const auto& input : request.inputs) {
    raw.inputs.push_back({input.name, input.type, input.shape});
    raw.tensors.emplace_back(reinterpret_cast<const char*>(input.data.data()), input.data.size());
  }
  for (const auto& output : request.outputs) raw.outputs.push_back(output.name);
  raw.priority = request.priority;
  if (request.timeout) raw.timeout_us = static_cast<std::uint64_t>(request.timeout->count());
  raw.rows = rows_of(request.inputs.front().shape, batching);
  return raw;
}

response_check check_infer_response(std::string_view body, std::optional<std::size_t> json_length) {
  const std::size_t header_size = json_length.value_or(body.size());
  if (header_size > body.size()) {
    return {"Inference-Header-Content-Length " + std::to_string(header_size) + " exceeds the body's " +
           std::to_string(body.size()) + " bytes", {}};
  }
  rapidjson::Document document;
  document.Parse<parse_flags>(body.data(), header_size);
  if (document.HasParseError() || !document.IsObject()) return {std::string("the response is not a JSON object"), {}};
  const auto* outputs = member(document, "outputs");
  if (!outputs || !outputs->IsArray()) return {std::string("the response has no \"outputs\" array"), {}};
  std::uint64_t binary_bytes = 0;
  for (const auto& output : outputs->GetArray()) {
    const auto* name = member(output, "name");
    const auto* datatype = member(output, "datatype");
    const auto* shape = member(output, "shape");
    if (!name || !name->IsString() || !datatype || !datatype->IsString() || !shape || !shape->IsArray()) {
      return {std::string("an output lacks a name, datatype or shape"), {}};
    }
    const auto* parameters = member(output, "parameters");
    const auto* size = parameters ? member(*parameters, "binary_data_size") : nullptr;
    if (size) {
      if (!size->IsUint64()) {
        return {"output '" + std::string(name->GetString()) + "' has a malformed binary_data_size", {}};
      }
      binary_bytes += size->GetUint64();
    } else if (!member(output, "data")) {
      return {"output '" + std::string(name->GetString()) + "' has neither data nor binary_data_size", {}};
    }
  }
  if (binary_bytes != body.size() - header_size) {
    return {"the outputs' binary_data_size values add up to " + std::to_string(binary_bytes) +
                " bytes, the body carries " + std::to_string(body.size() - header_size),
            {}};
  }
  response_check check;
  if (const auto* version = member(document, "model_version"); version && version->IsString()) {
    check.model_version = version->GetString();
  }
  return check;
}

}  // namespace surge::bench
