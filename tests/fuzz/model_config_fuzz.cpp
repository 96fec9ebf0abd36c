// config.pbtxt text through what loading a model runs on it: the TextFormat
// parse against surge's schema (unsupported fields refused), the defaults,
// then every section's validation. A config that loads must load again,
// unchanged, once written back as text: defaults are filled once and
// validation does not depend on whether a field was written or defaulted.

#include <google/protobuf/text_format.h>
#include <google/protobuf/util/message_differencer.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "config/model_config.hpp"
#include "fuzz_checks.hpp"

namespace {

using namespace surge;
using fuzz::check;

constexpr std::string_view source = "fuzz/config.pbtxt";

void check_result(const config_load_result& result) {
  check(result.config.has_value() != !result.error.empty(), "a config load gives a config or an error, not both");
  if (!result.config) {
    check(std::string_view(result.error).starts_with(source), "a config error names its file");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto parsed = parse_model_config(text, source);
  check_result(parsed);
  if (!parsed.config) return 0;
  // The directory the model would be found in: its own name, so the checks
  // past the name check run too.
  const std::string directory = parsed.config->name().empty() ? "model" : parsed.config->name();
  auto completed = complete_model_config(*parsed.config, directory, source);
  check_result(completed);
  if (!completed.config) return 0;

  std::string written;
  check(google::protobuf::TextFormat::PrintToString(*completed.config, &written), "a loaded config prints as text");
  auto reparsed = parse_model_config(written, source);
  if (!reparsed.config) fuzz::fail("a loaded config, printed, parses again: " + reparsed.error + "\n" + written);
  auto again = complete_model_config(*reparsed.config, directory, source);
  if (!again.config) fuzz::fail("a loaded config, printed, loads again: " + again.error + "\n" + written);
  check(google::protobuf::util::MessageDifferencer::Equals(*again.config, *completed.config),
        "loading a loaded config changes nothing");
  return 0;
}
