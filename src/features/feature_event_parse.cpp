#include "features/feature_event_parse.hpp"

#include <charconv>
#include <cmath>
#include <limits>

#include "core/text_fields.hpp"

namespace surge::features {


double parse_number_or_nan(std::string_view text) {
  double value;
  return parse_field_number(text, value) ? value : std::numeric_limits<double>::quiet_NaN();
}

std::optional<feature_event> parse_event(const streams::stream_entry& entry, const feature_spec& spec) {
  const auto* entity = entry.find(spec.entity_field);
  const auto* time = entry.find(spec.time_field);
  if (entity == nullptr || time == nullptr) return std::nullopt;
  feature_event event;
  event.entity = *entity;
  const auto parsed = std::from_chars(time->data(), time->data() + time->size(), event.time_ms);
  if (time->empty() || parsed.ec != std::errc{} || parsed.ptr != time->data() + time->size()) return std::nullopt;
  event.numbers.resize(spec.numeric_fields.size());
  for (std::size_t i = 0; i < spec.numeric_fields.size(); ++i) {
    const auto* value = entry.find(spec.numeric_fields[i]);
    if (value == nullptr || !parse_field_number(*value, event.numbers[i])) return std::nullopt;
  }
  event.labels.reserve(spec.distinct_fields.size());
  for (const auto& field : spec.distinct_fields) {
    const auto* value = entry.find(field);
    if (value == nullptr) return std::nullopt;
    event.labels.push_back(*value);
  }
  return event;
}

}  // namespace surge::features
