#include "features/feature_spec.hpp"

#include <algorithm>
#include <optional>

namespace surge::features {

namespace {

std::size_t slot_of(std::vector<std::string>& fields, const std::string& field) {
  const auto found = std::find(fields.begin(), fields.end(), field);
  if (found != fields.end()) return static_cast<std::size_t>(found - fields.begin());
  fields.push_back(field);
  return fields.size() - 1;
}

aggregate aggregate_of(config::FeatureWindow::Aggregate a) {
  switch (a) {
    case config::FeatureWindow::SUM: return aggregate::sum;
    case config::FeatureWindow::MEAN: return aggregate::mean;
    case config::FeatureWindow::MAX: return aggregate::max;
    case config::FeatureWindow::MIN: return aggregate::min;
    case config::FeatureWindow::DISTINCT_COUNT: return aggregate::distinct_count;
    default: return aggregate::count;
  }
}

}  // namespace

feature_spec make_feature_spec(const config::ModelConfig& config) {
  const auto& f = config.features();
  feature_spec spec;
  spec.model = config.name();
  spec.scoring_model = f.model();
  spec.scoring_input = f.model_input();
  spec.entity_input = f.entity_input();
  for (const auto& input : config.input()) {
    if (input.name() != f.entity_input()) spec.request_inputs.push_back(input.name());
  }
  for (const auto& output : config.output()) {
    if (output.name() != "FEATURES") spec.outputs.push_back(output.name());
  }
  spec.stream_key = f.stream().key();
  spec.entity_field = f.stream().entity_field();
  spec.time_field = f.stream().time_field();
  spec.tile_ms = f.tile_ms() == 0 ? 1000 : static_cast<std::int64_t>(f.tile_ms());
  spec.allowed_lateness_ms = static_cast<std::int64_t>(f.allowed_lateness_ms());
  for (const auto& w : f.window()) {
    window_definition window;
    window.name = w.name();
    window.kind = aggregate_of(w.aggregate());
    if (window.kind == aggregate::distinct_count) window.slot = slot_of(spec.distinct_fields, w.field());
    else if (window.kind != aggregate::count) window.slot = slot_of(spec.numeric_fields, w.field());
    window.tiles = std::max<std::int64_t>(1, static_cast<std::int64_t>(w.length_ms()) / spec.tile_ms);
    spec.max_window_tiles = std::max(spec.max_window_tiles, window.tiles);
    spec.windows.push_back(std::move(window));
  }
  spec.max_entities = f.max_entities() == 0 ? 1'000'000 : static_cast<std::size_t>(f.max_entities());
  spec.hash_prefix = f.static_attributes().hash_prefix();
  spec.static_fields.assign(f.static_attributes().fields().begin(), f.static_attributes().fields().end());
  if (f.static_attributes().ttl_ms() > 0) spec.static_ttl_ms = static_cast<std::int64_t>(f.static_attributes().ttl_ms());
  const auto index_in = [](const std::vector<std::string>& names, const std::string& name) -> std::optional<std::size_t> {
    const auto found = std::find(names.begin(), names.end(), name);
    if (found == names.end()) return std::nullopt;
    return static_cast<std::size_t>(found - names.begin());
  };
  for (const auto& name : f.vector()) {
    vector_element element;
    if (auto i = index_in(spec.request_inputs, name)) {
      element = {vector_element::source::request_input, *i};
    } else if (auto found = std::find_if(spec.windows.begin(), spec.windows.end(),
                                         [&](const auto& w) { return w.name == name; });
               found != spec.windows.end()) {
      element = {vector_element::source::window, static_cast<std::size_t>(found - spec.windows.begin())};
    } else if (auto s = index_in(spec.static_fields, name)) {
      element = {vector_element::source::static_attribute, *s};
    }
    spec.vector.push_back(element);
  }
  return spec;
}

}  // namespace surge::features
