#include "config/validation.hpp"

namespace surge::config_validation {

void validate_upstream(problem_list& problems, const config::ModelConfig& config) {
  if (!config.has_upstream()) return;
  const auto& url = config.upstream().url();
  if (url.empty()) {
    problems.add("upstream.url", "is required");
  } else if (!url.starts_with("http://")) {
    problems.add("upstream.url", in_quotes(url) + " must be an http:// URL");
  }
}

}  // namespace surge::config_validation
