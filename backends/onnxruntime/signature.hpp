// A loaded ONNX model's own inputs and outputs, and the check of a config's
// declarations against them.
#pragma once

#include <surge/backend_helpers.hpp>

#include <onnxruntime_cxx_api.h>

#include <cstdint>
#include <string>
#include <vector>

namespace surge::onnx {

struct model_tensor {
  std::string name;
  ONNXTensorElementDataType type{ONNX_TENSOR_ELEMENT_DATA_TYPE_UNDEFINED};
  std::vector<std::int64_t> dims;  // -1: open (symbolic or unknown)
};

struct signature {
  std::vector<model_tensor> inputs;
  std::vector<model_tensor> outputs;
};

signature read_signature(const Ort::Session& session);

// Fails with SURGE_ERROR_UNSUPPORTED naming the tensor when a declared one is
// missing from the model, has another type or a shape that contradicts the
// model's (both shapes given), or when a model input is left unfed.
void check_declarations(const signature& model, const std::vector<backend_sdk::tensor_spec_view>& inputs,
                        const std::vector<backend_sdk::tensor_spec_view>& outputs, bool batched,
                        const std::string& file);

// Fills in, through surge_model_autocomplete, the inputs and outputs the
// config leaves out, and max_batch_size when it declares no tensors at all
// and every model tensor has an open first dimension.
void autocomplete(const signature& model, const backend_sdk::model_info& info, std::uint32_t default_max_batch_size);

}  // namespace surge::onnx
