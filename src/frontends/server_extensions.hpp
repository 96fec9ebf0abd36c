#pragma once

#include <array>
#include <string_view>

namespace surge {

// The Triton extensions /v2 (HTTP) and ServerMetadata (gRPC) advertise: only
// those served on both protocols. docs/triton-compatibility.md lists every
// extension, the ones left out with the reason.
inline constexpr std::array<std::string_view, 9> server_extensions{
    "binary_tensor_data", "classification",       "model_configuration", "model_repository", "statistics",
    "system_shared_memory", "sequence",           "schedule_policy",     "parameters"};

}  // namespace surge
