#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <variant>

#include "backend_loader/backend_model.hpp"
#include "config/model_config.hpp"
#include "metrics/registry.hpp"

namespace surge {

// The backend model for one version of a model whose batches run in this
// process: dlopens libsurge_backend_<config.backend>.so from
// `backend_directory`, creates the model from the version's files and shows
// the backend's own statistics in `metrics` while the model lives.
// Blocking.
std::variant<std::shared_ptr<backend_model>, error> open_backend(const std::filesystem::path& backend_directory,
                                                                 const config::ModelConfig& config,
                                                                 const std::filesystem::path& model_directory,
                                                                 std::int64_t version, metrics::registry& metrics);

// Config auto-complete by the backends in `backend_directory`, for one scan
// of a repository (model/backend_spec.hpp, backend_config_completion): the
// libraries it opens stay loaded while the returned function lives, so the
// models loaded after the scan share them.
config_completion backend_autocompletion(std::filesystem::path backend_directory);

}  // namespace surge
