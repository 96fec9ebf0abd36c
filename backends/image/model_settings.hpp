// What an image model's config says: its tensors and the preprocess options
// its output dims, datatype and parameters give.
#pragma once

#include <surge/backend_helpers.hpp>

#include <string>

#include "image/preprocess.hpp"

namespace surge::image_backend {

struct model_settings {
  std::string input;   // BYTES, dims [1]: one encoded image per row
  std::string output;  // FP32 or UINT8, dims [C, H, W] (NCHW) or [H, W, C] (NHWC)
  surge_data_type output_type{SURGE_TYPE_FP32};
  std::vector<std::int64_t> output_dims;
  image::preprocess_options options;
};

// Fails (SURGE_ERROR_UNSUPPORTED) naming the tensor or parameter that does
// not fit.
model_settings read_settings(const backend_sdk::model_info& info);

}  // namespace surge::image_backend
