#pragma once

#include <cstdint>
#include <deque>
#include <optional>
#include <shared_mutex>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "features/feature_spec.hpp"

namespace surge::features {

// One event of the stream, parsed: its entity, event time, the values of
// the numeric fields and of the distinct-counted fields (feature_spec's
// slots, in order).
struct feature_event {
  std::string entity;
  std::int64_t time_ms{0};
  std::vector<double> numbers;
  std::vector<std::string> labels;
};

// Per-entity sliding-window aggregates over event time, kept in tiles of
// tile_ms: each tile holds its events' count and, per field, sum, max, min
// or the set of distinct values. A window of L ms at time t is the tiles
// from floor(t / tile) - L / tile + 1 to floor(t / tile): whole tiles, so a
// window includes every event of t's own tile. Sums add events in the order
// they were applied and tiles in ascending order, so a reference that does
// the same gets the same doubles.
//
// Lateness is against the latest event time seen (M): an event older than
// M - allowed_lateness is dropped; an older one within it is applied (and
// reported late). Tiles no window at or after M - allowed_lateness can
// reach are dropped, and past max_entities the least recently updated
// entities are, so memory is bounded by entities × tiles per window.
//
// apply() from one thread (the stream follower), evaluate() from any.
class window_store {
 public:
  enum class outcome { applied, late, too_late };

  explicit window_store(const feature_spec& spec);

  outcome apply(const feature_event& event);
  // Each window's value for the entity at time `t_ms` (float, NaN for a
  // MEAN, MAX or MIN of no events) into out[window index].
  void evaluate(std::string_view entity, std::int64_t t_ms, std::span<float> out) const;
  // The latest event time applied, if any.
  std::optional<std::int64_t> latest_time_ms() const;
  std::size_t entities() const;

 private:
  struct tile {
    std::int64_t index{0};
    std::uint64_t count{0};
    std::vector<double> sum, max, min;                 // per numeric slot
    std::vector<std::unordered_set<std::string>> distinct;  // per distinct slot
  };
  struct entity_state {
    std::deque<tile> tiles;  // ascending index
    std::uint64_t last_update{0};
  };

  std::int64_t oldest_kept_tile() const;  // mutex_ held
  void drop_old_tiles(entity_state& state, std::int64_t oldest) const;
  void bound_entities();  // mutex_ held exclusively

  const feature_spec& spec_;
  mutable std::shared_mutex mutex_;
  std::unordered_map<std::string, entity_state> entities_;
  std::optional<std::int64_t> latest_;
  std::uint64_t updates_{0};
};

// Floor division (event times may be negative).
inline std::int64_t floor_div(std::int64_t a, std::int64_t b) {
  const auto q = a / b;
  return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}

}  // namespace surge::features
