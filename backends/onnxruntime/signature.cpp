#include "signature.hpp"

#include <algorithm>
#include <string_view>

#include "common/shape_match.hpp"
#include "onnx_types.hpp"

namespace surge::onnx {
namespace sdk = surge::backend_sdk;

namespace {

model_tensor describe(std::string name, const Ort::TypeInfo& info) {
  model_tensor out;
  out.name = std::move(name);
  if (info.GetONNXType() != ONNX_TYPE_TENSOR) {
    // Sequences and maps (scikit-learn's ZipMap output, say) have no tensor
    // shape; they stay UNDEFINED and are refused when declared.
    return out;
  }
  const auto tensor = info.GetTensorTypeAndShapeInfo();
  out.type = tensor.GetElementType();
  out.dims = tensor.GetShape();
  for (auto& d : out.dims) {
    if (d < 0) d = -1;
  }
  return out;
}

const model_tensor* find(const std::vector<model_tensor>& tensors, std::string_view name) {
  for (const auto& t : tensors) {
    if (t.name == name) return &t;
  }
  return nullptr;
}

std::string names_of(const std::vector<model_tensor>& tensors) {
  std::string out;
  for (const auto& t : tensors) out += (out.empty() ? "" : ", ") + t.name;
  return out.empty() ? "none" : out;
}

std::string type_text(ONNXTensorElementDataType type) {
  if (type == ONNX_TENSOR_ELEMENT_DATA_TYPE_UNDEFINED) return "not a tensor";
  if (auto surge_type = surge_type_of(type)) return std::string(sdk::type_name(*surge_type));
  return onnx_type_name(type);
}

void check_one(const std::vector<model_tensor>& model, const sdk::tensor_spec_view& spec, std::string_view role,
               bool batched, const std::string& file) {
  const std::string what = std::string(role) + " '" + std::string(spec.name) + "'";
  const auto* tensor = find(model, spec.name);
  if (tensor == nullptr) {
    sdk::fail(SURGE_ERROR_UNSUPPORTED, what + " of config.pbtxt is not an " + std::string(role) + " of '" + file +
                                           "' (its " + std::string(role) + "s: " + names_of(model) + ")");
  }
  if (onnx_type_of(spec.type) != tensor->type) {
    sdk::fail(SURGE_ERROR_UNSUPPORTED, what + ": config.pbtxt says " + std::string(sdk::type_name(spec.type)) + ", '" +
                                           file + "' has " + type_text(tensor->type));
  }
  std::vector<std::int64_t> config_shape;
  if (batched) config_shape.push_back(-1);
  config_shape.insert(config_shape.end(), spec.dims.begin(), spec.dims.end());
  const bool batch_ok = !batched || shape_match::batchable(tensor->dims);
  if (!batch_ok || !shape_match::fits(tensor->dims, config_shape)) {
    sdk::fail(SURGE_ERROR_UNSUPPORTED,
              what + ": config.pbtxt gives shape " + sdk::shape_string(config_shape) +
                  (batched ? " (-1 in front: the batch dimension of max_batch_size > 0)" : "") + ", '" + file +
                  "' has " + sdk::shape_string(tensor->dims));
  }
}

}  // namespace

signature read_signature(const Ort::Session& session) {
  signature out;
  Ort::AllocatorWithDefaultOptions allocator;
  for (std::size_t i = 0; i < session.GetInputCount(); ++i) {
    out.inputs.push_back(describe(session.GetInputNameAllocated(i, allocator).get(), session.GetInputTypeInfo(i)));
  }
  for (std::size_t i = 0; i < session.GetOutputCount(); ++i) {
    out.outputs.push_back(describe(session.GetOutputNameAllocated(i, allocator).get(), session.GetOutputTypeInfo(i)));
  }
  return out;
}

void check_declarations(const signature& model, const std::vector<sdk::tensor_spec_view>& inputs,
                        const std::vector<sdk::tensor_spec_view>& outputs, bool batched, const std::string& file) {
  for (const auto& spec : inputs) check_one(model.inputs, spec, "input", batched, file);
  for (const auto& spec : outputs) check_one(model.outputs, spec, "output", batched, file);
  for (const auto& tensor : model.inputs) {
    const bool fed = std::any_of(inputs.begin(), inputs.end(), [&](const auto& s) { return s.name == tensor.name; });
    if (!fed) {
      sdk::fail(SURGE_ERROR_UNSUPPORTED,
                "input '" + tensor.name + "' of '" + file + "' is not declared in config.pbtxt, so nothing feeds it");
    }
  }
}

void autocomplete(const signature& model, const sdk::model_info& info, std::uint32_t default_max_batch_size) {
  const auto inputs = info.inputs();
  const auto outputs = info.outputs();
  bool batched = info.batched();
  if (!batched && inputs.empty() && outputs.empty()) {
    const auto open = [](const model_tensor& t) { return shape_match::batchable(t.dims); };
    batched = std::all_of(model.inputs.begin(), model.inputs.end(), open) &&
              std::all_of(model.outputs.begin(), model.outputs.end(), open);
    if (batched) info.set_max_batch_size(default_max_batch_size);
  }
  const auto add = [&](const model_tensor& tensor, bool input) {
    const auto role = std::string(input ? "input" : "output");
    const auto type = surge_type_of(tensor.type);
    if (!type) {
      sdk::fail(SURGE_ERROR_UNSUPPORTED, role + " '" + tensor.name + "' of the model is " + type_text(tensor.type) +
                                             ", which surge cannot serve: declare the " + role +
                                             "s in config.pbtxt without it");
    }
    if (batched && !shape_match::batchable(tensor.dims)) {
      sdk::fail(SURGE_ERROR_UNSUPPORTED, role + " '" + tensor.name + "' has shape " +
                                             sdk::shape_string(tensor.dims) +
                                             ", whose first dimension cannot be the batch dimension");
    }
    const auto dims = shape_match::config_dims(tensor.dims, batched);
    if (input) {
      info.add_input(tensor.name, *type, dims);
    } else {
      info.add_output(tensor.name, *type, dims);
    }
  };
  const auto declared = [](const std::vector<sdk::tensor_spec_view>& specs, const std::string& name) {
    return std::any_of(specs.begin(), specs.end(), [&](const auto& s) { return s.name == name; });
  };
  for (const auto& tensor : model.inputs) {
    if (!declared(inputs, tensor.name)) add(tensor, true);
  }
  // A config that names its outputs chose them: the others are left out.
  if (outputs.empty()) {
    for (const auto& tensor : model.outputs) add(tensor, false);
  }
}

}  // namespace surge::onnx
