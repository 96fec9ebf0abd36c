// ONNX element types and surge's datatypes, one to one: every type the server
// carries has an ONNX counterpart (BYTES is ONNX's string).
#pragma once

#include <surge/backend.h>

#include <onnxruntime_cxx_api.h>

#include <optional>
#include <string>

namespace surge::onnx {

inline std::optional<ONNXTensorElementDataType> onnx_type_of(surge_data_type type) {
  switch (type) {
    case SURGE_TYPE_BOOL: return ONNX_TENSOR_ELEMENT_DATA_TYPE_BOOL;
    case SURGE_TYPE_UINT8: return ONNX_TENSOR_ELEMENT_DATA_TYPE_UINT8;
    case SURGE_TYPE_UINT16: return ONNX_TENSOR_ELEMENT_DATA_TYPE_UINT16;
    case SURGE_TYPE_UINT32: return ONNX_TENSOR_ELEMENT_DATA_TYPE_UINT32;
    case SURGE_TYPE_UINT64: return ONNX_TENSOR_ELEMENT_DATA_TYPE_UINT64;
    case SURGE_TYPE_INT8: return ONNX_TENSOR_ELEMENT_DATA_TYPE_INT8;
    case SURGE_TYPE_INT16: return ONNX_TENSOR_ELEMENT_DATA_TYPE_INT16;
    case SURGE_TYPE_INT32: return ONNX_TENSOR_ELEMENT_DATA_TYPE_INT32;
    case SURGE_TYPE_INT64: return ONNX_TENSOR_ELEMENT_DATA_TYPE_INT64;
    case SURGE_TYPE_FP16: return ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT16;
    case SURGE_TYPE_FP32: return ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT;
    case SURGE_TYPE_FP64: return ONNX_TENSOR_ELEMENT_DATA_TYPE_DOUBLE;
    case SURGE_TYPE_BYTES: return ONNX_TENSOR_ELEMENT_DATA_TYPE_STRING;
    case SURGE_TYPE_BF16: return ONNX_TENSOR_ELEMENT_DATA_TYPE_BFLOAT16;
    default: return std::nullopt;
  }
}

inline std::optional<surge_data_type> surge_type_of(ONNXTensorElementDataType type) {
  for (auto candidate : {SURGE_TYPE_BOOL, SURGE_TYPE_UINT8, SURGE_TYPE_UINT16, SURGE_TYPE_UINT32, SURGE_TYPE_UINT64,
                         SURGE_TYPE_INT8, SURGE_TYPE_INT16, SURGE_TYPE_INT32, SURGE_TYPE_INT64, SURGE_TYPE_FP16,
                         SURGE_TYPE_FP32, SURGE_TYPE_FP64, SURGE_TYPE_BYTES, SURGE_TYPE_BF16}) {
    if (onnx_type_of(candidate) == type) return candidate;
  }
  return std::nullopt;
}

// For messages about ONNX types surge has no datatype for (complex, float8...).
inline std::string onnx_type_name(ONNXTensorElementDataType type) {
  return "ONNX element type " + std::to_string(static_cast<int>(type));
}

}  // namespace surge::onnx
