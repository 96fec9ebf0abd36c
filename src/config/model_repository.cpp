#include "config/model_repository.hpp"

#include <algorithm>
#include <stdexcept>
#include <system_error>

#include "config/model_config.hpp"

namespace surge {
namespace {

namespace fs = std::filesystem;

std::string join_versions(const std::vector<std::int64_t>& versions) {
  std::string out;
  for (const auto version : versions) {
    if (!out.empty()) out += ", ";
    out += std::to_string(version);
  }
  return out;
}

model_entry load_entry(const fs::path& directory, const config_completion& completion) {
  model_entry entry;
  entry.name = directory.filename().string();
  entry.directory = directory;

  auto loaded = load_model_config(directory, completion);
  if (!loaded.config) {
    entry.error = std::move(loaded.error);
    return entry;
  }

  const auto available = list_version_directories(directory);
  if (available.empty()) {
    entry.error = "no version directories in " + directory.string();
    return entry;
  }
  auto selected = select_versions(*loaded.config, directory);
  if (selected.empty()) {
    entry.error = "version_policy selects none of the versions in " + directory.string() + " (found " +
                  join_versions(available) + ")";
    return entry;
  }
  entry.config = std::move(loaded.config);
  entry.versions = std::move(selected);
  return entry;
}

}  // namespace

std::vector<model_entry> scan_model_repository(const fs::path& repository, const config_completion& completion) {
  std::error_code ec;
  if (!fs::is_directory(repository, ec)) {
    throw std::runtime_error("model repository " + repository.string() + " does not exist or is not a directory");
  }

  std::vector<fs::path> model_dirs;
  fs::directory_iterator it(repository, ec);
  for (fs::directory_iterator end; !ec && it != end; it.increment(ec)) {
    std::error_code type_ec;
    if (!it->is_directory(type_ec)) continue;
    if (it->path().filename().string().starts_with('.')) continue;
    model_dirs.push_back(it->path());
  }
  if (ec) throw std::runtime_error("cannot read model repository " + repository.string() + ": " + ec.message());
  std::sort(model_dirs.begin(), model_dirs.end(),
            [](const fs::path& a, const fs::path& b) { return a.filename().string() < b.filename().string(); });

  std::vector<model_entry> entries;
  entries.reserve(model_dirs.size());
  for (const auto& directory : model_dirs) entries.push_back(load_entry(directory, completion));
  return entries;
}

}  // namespace surge
