#include "model_settings.hpp"

#include <algorithm>
#include <array>

#include "image/preprocess_parameters.hpp"

namespace surge::image_backend {

namespace sdk = surge::backend_sdk;

namespace {

// Parameters a config may set; width, height, channels and data_type come
// from the output's dims and datatype instead.
constexpr std::array<std::string_view, 11> config_parameters = {
    "resize_mode", "interpolation", "shorter_side", "pad_value",  "scale",
    "mean",        "std",           "layout",       "color_order", "max_pixels", "apply_orientation"};

[[noreturn]] void refuse(const std::string& message) { sdk::fail(SURGE_ERROR_UNSUPPORTED, message); }

std::size_t value_count(const std::string& text) { return 1 + static_cast<std::size_t>(std::count(text.begin(), text.end(), ',')); }

}  // namespace

model_settings read_settings(const sdk::model_info& info) {
  model_settings s;
  const std::string model = "image model '" + info.name() + "'";
  if (!info.batched()) refuse(model + " needs max_batch_size > 0 (one encoded image per row)");

  const auto inputs = info.inputs();
  if (inputs.size() != 1) refuse(model + " takes exactly one input, the config declares " + std::to_string(inputs.size()));
  s.input = std::string(inputs[0].name);
  if (inputs[0].type != SURGE_TYPE_BYTES) {
    refuse(model + ": input '" + s.input + "' must be TYPE_STRING (encoded images), not " +
           std::string(sdk::type_name(inputs[0].type)));
  }
  if (inputs[0].dims.size() != 1 || inputs[0].dims[0] != 1) {
    refuse(model + ": input '" + s.input + "' must have dims [ 1 ] (one image per row), not " +
           sdk::shape_string(inputs[0].dims));
  }

  const auto outputs = info.outputs();
  if (outputs.size() != 1) refuse(model + " has exactly one output, the config declares " + std::to_string(outputs.size()));
  s.output = std::string(outputs[0].name);
  s.output_type = outputs[0].type;
  s.output_dims.assign(outputs[0].dims.begin(), outputs[0].dims.end());
  if (s.output_type == SURGE_TYPE_FP32) {
    s.options.type = image::element_type::fp32;
  } else if (s.output_type == SURGE_TYPE_UINT8) {
    s.options.type = image::element_type::uint8;
  } else {
    refuse(model + ": output '" + s.output + "' must be TYPE_FP32 or TYPE_UINT8, not " +
           std::string(sdk::type_name(s.output_type)));
  }

  const sdk::parameter_map parameters(info);
  for (std::uint32_t i = 0; i < surge_model_info_parameter_count(info.get()); ++i) {
    const std::string_view key = surge_model_info_parameter_key(info.get(), i);
    if (std::find(config_parameters.begin(), config_parameters.end(), key) != config_parameters.end()) continue;
    std::string known;
    for (auto name : config_parameters) known += (known.empty() ? "" : ", ") + std::string(name);
    refuse(model + ": unknown parameter '" + std::string(key) + "' (known: " + known +
           "; the output's dims and datatype give width, height, channels and data_type)");
  }
  for (auto key : config_parameters) {
    auto value = parameters.get_string(key);
    if (!value) continue;
    if (auto problem = image::set_parameter(s.options, key, *value)) refuse(model + ": " + *problem);
  }

  const auto& dims = s.output_dims;
  const bool nchw = s.options.layout == image::tensor_layout::nchw;
  if (dims.size() != 3 || std::any_of(dims.begin(), dims.end(), [](std::int64_t d) { return d <= 0; })) {
    refuse(model + ": output '" + s.output + "' must have three fixed dims, " +
           std::string(nchw ? "[ C, H, W ] (parameter 'layout' NCHW)" : "[ H, W, C ] (parameter 'layout' NHWC)") +
           ", not " + sdk::shape_string(dims));
  }
  const auto channels = nchw ? dims[0] : dims[2];
  if (channels != 1 && channels != 3) {
    refuse(model + ": output '" + s.output + "' dims " + sdk::shape_string(dims) + " read as " +
           (nchw ? "NCHW" : "NHWC") + " (parameter 'layout') give " + std::to_string(channels) +
           " channels; 1 or 3 are made");
  }
  s.options.channels = static_cast<int>(channels);
  s.options.height = static_cast<std::uint32_t>(nchw ? dims[1] : dims[0]);
  s.options.width = static_cast<std::uint32_t>(nchw ? dims[2] : dims[1]);

  for (auto key : {"mean", "std", "scale"}) {
    auto value = parameters.get_string(key);
    if (!value) continue;
    if (s.options.type == image::element_type::uint8) {
      refuse(model + ": parameter '" + key + "' applies to a TYPE_FP32 output; output '" + s.output +
             "' is TYPE_UINT8 (the pixels as they are)");
    }
    if (std::string_view(key) != "scale" && value_count(*value) != 1 &&
        value_count(*value) != static_cast<std::size_t>(channels)) {
      refuse(model + ": parameter '" + key + "' has " + std::to_string(value_count(*value)) + " values, output '" +
             s.output + "' has " + std::to_string(channels) + " channel" + (channels == 1 ? "" : "s"));
    }
  }
  if (parameters.get_string("color_order") && channels == 1) {
    refuse(model + ": parameter 'color_order' needs a 3-channel output; output '" + s.output + "' has 1 channel");
  }
  if (auto problem = image::validate(s.options)) refuse(model + ": " + problem->message);
  return s;
}

}  // namespace surge::image_backend
