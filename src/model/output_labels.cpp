#include "model/output_labels.hpp"

#include <fstream>

namespace surge {
namespace {

// A label file is a short list of names; anything this large is a mistake.
constexpr std::uintmax_t max_label_file_bytes = 64 * 1024 * 1024;

}  // namespace

std::variant<output_labels, error> read_output_labels(const config::ModelConfig& config,
                                                      const std::filesystem::path& model_directory) {
  output_labels labels;
  for (const auto& output : config.output()) {
    if (output.label_filename().empty()) continue;
    const auto path = model_directory / output.label_filename();
    const auto failed = [&](const std::string& why) {
      return make_error(error_code::invalid_argument, "output '" + output.name() + "': label_filename '" +
                                                          output.label_filename() + "': " + why);
    };
    std::error_code ec;
    if (!std::filesystem::is_regular_file(path, ec)) return failed("no such file in " + model_directory.string());
    if (std::filesystem::file_size(path, ec) > max_label_file_bytes) return failed("larger than 64 MiB");
    std::ifstream in(path);
    if (!in) return failed("cannot be read");
    auto& lines = labels[output.name()];
    for (std::string line; std::getline(in, line);) {
      if (!line.empty() && line.back() == '\r') line.pop_back();
      lines.push_back(std::move(line));
    }
  }
  return labels;
}

}  // namespace surge
