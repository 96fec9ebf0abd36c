#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "config/model_config.hpp"

namespace surge {

// One model directory of a repository. Exactly one of `config` and `error` is
// set: a model with an error stays listed (so the repository index can say why
// it is unavailable) but is never served.
struct model_entry {
  std::string name;                         // the directory's name
  std::filesystem::path directory;
  std::optional<config::ModelConfig> config;
  std::vector<std::int64_t> versions;       // ascending; those the version policy selects
  std::string error;
};

// Loads every model in a Triton-layout repository: one entry per
// subdirectory, sorted by name. Directories whose names start with '.' (editor
// and VCS droppings) are skipped, as are plain files. One bad model does not
// stop the others from loading; a repository path that is missing or not a
// directory throws std::runtime_error, because the server cannot start
// without it. `completion` fills in what configs leave out (see
// load_model_config). Blocking file I/O: call at start-up or from a loader
// thread.
std::vector<model_entry> scan_model_repository(const std::filesystem::path& repository,
                                               const config_completion& completion = {});

}  // namespace surge
