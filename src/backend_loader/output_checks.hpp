#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "backend_loader/backend_model.hpp"
#include "core/tensor.hpp"
#include "surge/backend.h"

namespace surge::abi {

// Why the server refuses to allocate an output of one response ("output 'x'
// is FP64, the model declares FP32"), or "" when it may: the name must be a
// declared output not yet in `already`, and the type, dims and byte size
// must agree with the declaration.
std::string check_output(const backend_model_spec& spec, const std::vector<tensor>& already, const char* name,
                         surge_data_type raw_type, const std::int64_t* shape, std::uint32_t rank,
                         std::uint64_t byte_size);

}  // namespace surge::abi
