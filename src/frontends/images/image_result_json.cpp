#include "frontends/images/image_result_json.hpp"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <cstring>
#include <vector>

namespace surge::images {

namespace {

using json_writer = rapidjson::Writer<rapidjson::StringBuffer>;

void write_string(json_writer& w, std::string_view s) { w.String(s.data(), static_cast<rapidjson::SizeType>(s.size())); }

std::string_view kind_name(image::error_kind kind) {
  switch (kind) {
    case image::error_kind::not_an_image: return "not_an_image";
    case image::error_kind::unsupported_format: return "unsupported_format";
    case image::error_kind::corrupt: return "corrupt_image";
    case image::error_kind::too_large: return "too_many_pixels";
    case image::error_kind::invalid_options: return "invalid_options";
  }
  return "image_error";
}

std::string error_json(const std::string& url, std::string_view kind, std::string_view message) {
  rapidjson::StringBuffer buffer;
  json_writer w(buffer);
  w.StartObject();
  w.Key("url");
  write_string(w, url);
  w.Key("error");
  w.StartObject();
  w.Key("kind");
  write_string(w, kind);
  w.Key("message");
  write_string(w, message);
  w.EndObject();
  w.EndObject();
  return buffer.GetString();
}

}  // namespace

std::string result_json(const std::string& url, const fetch::fetch_result& fetched,
                        const image::preprocess_options& options) {
  if (const auto* failure = std::get_if<fetch::fetch_error>(&fetched)) {
    return error_json(url, fetch::to_string(failure->code), failure->message);
  }
  const auto& body = std::get<fetch::fetched_body>(fetched).body;
  std::vector<std::byte> tensor(image::output_byte_size(options));
  if (auto failure = image::preprocess(std::as_bytes(std::span(body.data(), body.size())), options, tensor)) {
    return error_json(url, kind_name(failure->kind), failure->message);
  }
  rapidjson::StringBuffer buffer;
  json_writer w(buffer);
  w.StartObject();
  w.Key("url");
  write_string(w, url);
  w.Key("shape");
  w.StartArray();
  const unsigned c = static_cast<unsigned>(options.channels);
  if (options.layout == image::tensor_layout::nchw) {
    w.Uint(c), w.Uint(options.height), w.Uint(options.width);
  } else {
    w.Uint(options.height), w.Uint(options.width), w.Uint(c);
  }
  w.EndArray();
  w.Key("datatype");
  const bool fp32 = options.type == image::element_type::fp32;
  write_string(w, fp32 ? "FP32" : "UINT8");
  w.Key("data");
  w.StartArray();
  if (fp32) {
    const std::size_t n = tensor.size() / sizeof(float);
    for (std::size_t i = 0; i < n; ++i) {
      float v;
      std::memcpy(&v, tensor.data() + i * sizeof(float), sizeof v);
      w.Double(static_cast<double>(v));
    }
  } else {
    for (auto b : tensor) w.Uint(static_cast<unsigned>(b));
  }
  w.EndArray();
  w.EndObject();
  return buffer.GetString();
}

}  // namespace surge::images
