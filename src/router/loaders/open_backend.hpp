#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <variant>

#include "backend_loader/backend_library.hpp"
#include "config/model_config.pb.h"

namespace surge {

// The backend model for one version of a model whose batches run in this
// process: dlopens libsurge_backend_<config.backend>.so from
// `backend_directory` and creates the model from the version's files.
// Blocking.
std::variant<std::shared_ptr<backend_model>, error> open_backend(const std::filesystem::path& backend_directory,
                                                                 const config::ModelConfig& config,
                                                                 const std::filesystem::path& model_directory,
                                                                 std::int64_t version);

}  // namespace surge
