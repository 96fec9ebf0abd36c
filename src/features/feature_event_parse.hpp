#pragma once

#include <optional>

#include "features/feature_spec.hpp"
#include "features/window_store.hpp"
#include "streams/entries.hpp"

namespace surge::features {

// The event an entry of the features stream holds (docs/features.md, "Event
// entries"), or nullopt when it is malformed: no entity or time field, a
// time that is not an integer, a field a window aggregates missing, or (for
// SUM, MEAN, MAX, MIN) not a number.
std::optional<feature_event> parse_event(const streams::stream_entry& entry, const feature_spec& spec);

// A request field or static attribute as a number: NaN when it is not one.
double parse_number_or_nan(std::string_view text);

}  // namespace surge::features
