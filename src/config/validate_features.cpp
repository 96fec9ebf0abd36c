#include <set>
#include <string>

#include "config/validation.hpp"

namespace surge::config_validation {

// What can be checked without the scoring model; its input is checked
// against the vector when the features model loads (src/features/).
void validate_features(problem_list& problems, const config::ModelConfig& config) {
  if (config.platform() != "features") {
    if (config.has_features()) problems.add("features", "only a model with platform \"features\" may have features");
    return;
  }
  if (!config.backend().empty()) {
    problems.add("backend", "a features model scores with features.model; it has no backend (got " +
                                in_quotes(config.backend()) + ")");
  }
  if (config.has_worker_pool() || config.has_upstream() || config.has_generation() ||
      config.has_ensemble_scheduling()) {
    problems.add("platform", "a features model cannot also have worker_pool, upstream, generation or ensemble_scheduling");
  }
  if (!config.has_features()) {
    problems.add("features", "platform \"features\" needs a features section");
    return;
  }
  const auto& f = config.features();
  if (f.model().empty()) problems.add("features.model", "names the model that scores the vector; it is empty");
  if (f.model() == config.name()) problems.add("features.model", "a features model cannot score with itself");
  if (f.model_input().empty()) problems.add("features.model_input", "names the scoring model's input; it is empty");
  if (f.stream().key().empty()) problems.add("features.stream.key", "names the Redis stream of events; it is empty");
  if (f.stream().entity_field().empty()) problems.add("features.stream.entity_field", "is empty");
  if (f.stream().time_field().empty()) problems.add("features.stream.time_field", "is empty");

  std::set<std::string> names;
  const auto add_name = [&](const std::string& field, const std::string& name) {
    if (!names.insert(name).second) problems.add(field, in_quotes(name) + " names two features");
  };
  bool entity_found = false;
  for (const auto& input : config.input()) {
    if (input.name() == f.entity_input()) {
      entity_found = true;
      if (input.data_type() != config::TYPE_STRING || input.dims_size() != 1 || input.dims(0) != 1) {
        problems.add("features.entity_input", "input " + in_quotes(input.name()) + " must be TYPE_STRING with dims [ 1 ]");
      }
      continue;
    }
    if (input.data_type() == config::TYPE_STRING || input.data_type() == config::TYPE_INVALID ||
        input.dims_size() != 1 || input.dims(0) != 1) {
      problems.add("input", "a features model's request field " + in_quotes(input.name()) +
                                " must be one number (a numeric type with dims [ 1 ])");
    }
    add_name("input", input.name());
  }
  if (!entity_found) {
    problems.add("features.entity_input", in_quotes(f.entity_input()) + " is not an input of the model");
  }

  const std::uint64_t tile = f.tile_ms() == 0 ? 1000 : f.tile_ms();
  for (int i = 0; i < f.window_size(); ++i) {
    const auto& w = f.window(i);
    const std::string field = "features.window[" + std::to_string(i + 1) + "]";
    if (w.name().empty()) problems.add(field + ".name", "every window needs a name");
    else add_name(field + ".name", w.name());
    if (w.aggregate() != config::FeatureWindow::COUNT && w.field().empty()) {
      problems.add(field + ".field", "names the entry field " + config::FeatureWindow::Aggregate_Name(w.aggregate()) +
                                         " aggregates; it is empty");
    }
    if (w.length_ms() == 0 || w.length_ms() % tile != 0) {
      problems.add(field + ".length_ms", "must be a positive multiple of tile_ms (" + std::to_string(tile) + "), got " +
                                             std::to_string(w.length_ms()));
    }
  }
  const auto& s = f.static_attributes();
  if (s.fields_size() > 0 && s.hash_prefix().empty()) {
    problems.add("features.static_attributes.hash_prefix", "names the Redis hashes the fields are read from; it is empty");
  }
  for (const auto& name : s.fields()) add_name("features.static_attributes.fields", name);
  if (f.vector().empty()) problems.add("features.vector", "names the features of the vector; it is empty");
  for (const auto& name : f.vector()) {
    if (names.count(name) == 0) {
      problems.add("features.vector", in_quotes(name) + " is neither a request input, a window nor a static attribute");
    }
  }
}

}  // namespace surge::config_validation
