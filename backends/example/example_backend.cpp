// A complete surge backend to copy from: it multiplies FP32 tensors by a
// factor. Every input i of the config gives output i, of the same shape.
//
// config.pbtxt parameters (optional, string values):
//   factor   the multiplier (default 2)
// A request may send its own "factor" parameter, which wins for that
// request. Build it with CMake like backends/identity (surge_add_backend);
// it links nothing of the server.
#include <surge/backend_helpers.hpp>

#include <memory>
#include <string>
#include <vector>

namespace sdk = surge::backend_sdk;

// The backend's own objects, opaque to the server.
struct surge_model {
  std::vector<std::pair<std::string, std::string>> tensors;  // input name, output name
  float factor{2.0f};
};

struct surge_instance {
  const surge_model* model;
};

namespace {

float factor_of(const surge_model& model, const sdk::request_view& request) {
  const auto text = request.parameter("factor");
  if (!text) return model.factor;
  try {
    return std::stof(std::string(*text));
  } catch (const std::exception&) {
    sdk::fail(SURGE_ERROR_INVALID_ARGUMENT, "request parameter 'factor' must be a number, got '" +
                                                std::string(*text) + "'");
  }
}

// One request: each input times the factor, into a buffer the server owns.
void scale(const surge_model& model, const sdk::request_view& request, sdk::response& response) {
  const float factor = factor_of(model, request);
  for (const auto& [input_name, output_name] : model.tensors) {
    const auto input = request.input(input_name);
    const auto bytes = input.bytes();
    auto out = response.output(output_name, SURGE_TYPE_FP32, input.shape(), bytes.size());
    // memcpy in and out: request bodies give no alignment guarantee.
    for (std::size_t at = 0; at + sizeof(float) <= bytes.size(); at += sizeof(float)) {
      float value;
      std::memcpy(&value, bytes.data() + at, sizeof value);
      value *= factor;
      std::memcpy(out.data() + at, &value, sizeof value);
    }
  }
}

}  // namespace

SURGE_BACKEND_DEFINE_COMMON_EXPORTS();

extern "C" SURGE_BACKEND_EXPORT surge_error* surge_model_create(surge_model_info* raw, surge_model** out) {
  *out = nullptr;
  return sdk::guard([&] {
    const sdk::model_info info(raw);
    const auto inputs = info.inputs();
    const auto outputs = info.outputs();
    if (inputs.size() != outputs.size()) {
      sdk::fail(SURGE_ERROR_UNSUPPORTED, "model '" + info.name() + "' needs one output per input");
    }
    auto model = std::make_unique<surge_model>();
    for (std::size_t i = 0; i < inputs.size(); ++i) {
      if (inputs[i].type != SURGE_TYPE_FP32 || outputs[i].type != SURGE_TYPE_FP32) {
        sdk::fail(SURGE_ERROR_UNSUPPORTED, "model '" + info.name() + "': every tensor must be FP32");
      }
      model->tensors.emplace_back(inputs[i].name, outputs[i].name);
    }
    const sdk::parameter_map parameters(info);
    parameters.reject_unknown({"factor"});
    if (auto factor = parameters.get_double("factor")) model->factor = static_cast<float>(*factor);
    // Arithmetic on the calling thread: execute never blocks.
    info.set_capabilities(SURGE_CAPABILITY_SHORT_EXECUTE);
    *out = model.release();
  });
}

extern "C" SURGE_BACKEND_EXPORT void surge_model_delete(surge_model* model) { delete model; }

extern "C" SURGE_BACKEND_EXPORT surge_error* surge_instance_create(surge_model* model, uint32_t, surge_instance** out) {
  *out = nullptr;
  return sdk::guard([&] { *out = new surge_instance{model}; });
}

extern "C" SURGE_BACKEND_EXPORT void surge_instance_delete(surge_instance* instance) { delete instance; }

// Each request is answered on its own: one with a bad parameter fails alone.
extern "C" SURGE_BACKEND_EXPORT surge_error* surge_instance_execute(surge_instance* instance, surge_request** requests,
                                                                    uint32_t count) {
  return sdk::guard([&] {
    for (auto* request : sdk::requests_of(requests, count)) {
      sdk::answer(request, [&](const sdk::request_view& view, sdk::response& response) {
        scale(*instance->model, view, response);
      });
    }
  });
}
