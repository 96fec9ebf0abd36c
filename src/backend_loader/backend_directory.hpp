#pragma once

#include <filesystem>
#include <string>
#include <system_error>

namespace surge {

// Where backend libraries are looked for: `flag` (--backend-directory) when
// given, else backends/ beside the running binary (backends/ of the working
// directory when the binary's path cannot be read).
inline std::filesystem::path backend_directory_or_default(const std::string& flag) {
  if (!flag.empty()) return flag;
  std::error_code ec;
  const auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  return ec ? std::filesystem::path("backends") : exe.parent_path() / "backends";
}

}  // namespace surge
