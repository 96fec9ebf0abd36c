#include "features/window_store.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <mutex>

namespace surge::features {

window_store::window_store(const feature_spec& spec) : spec_(spec) {}

std::int64_t window_store::oldest_kept_tile() const {
  if (!latest_) return std::numeric_limits<std::int64_t>::min();
  return floor_div(*latest_ - spec_.allowed_lateness_ms, spec_.tile_ms) - spec_.max_window_tiles + 1;
}

void window_store::drop_old_tiles(entity_state& state, std::int64_t oldest) const {
  while (!state.tiles.empty() && state.tiles.front().index < oldest) state.tiles.pop_front();
}

window_store::outcome window_store::apply(const feature_event& event) {
  std::unique_lock lock(mutex_);
  if (latest_ && event.time_ms < *latest_ - spec_.allowed_lateness_ms) return outcome::too_late;
  const bool late = latest_ && event.time_ms < *latest_;
  if (!latest_ || event.time_ms > *latest_) latest_ = event.time_ms;

  auto& state = entities_[event.entity];
  state.last_update = ++updates_;
  const auto index = floor_div(event.time_ms, spec_.tile_ms);
  auto at = std::lower_bound(state.tiles.begin(), state.tiles.end(), index,
                             [](const tile& t, std::int64_t i) { return t.index < i; });
  if (at == state.tiles.end() || at->index != index) {
    tile fresh;
    fresh.index = index;
    fresh.sum.assign(spec_.numeric_fields.size(), 0.0);
    fresh.max.assign(spec_.numeric_fields.size(), -std::numeric_limits<double>::infinity());
    fresh.min.assign(spec_.numeric_fields.size(), std::numeric_limits<double>::infinity());
    fresh.distinct.resize(spec_.distinct_fields.size());
    at = state.tiles.insert(at, std::move(fresh));
  }
  ++at->count;
  for (std::size_t i = 0; i < spec_.numeric_fields.size(); ++i) {
    const double value = event.numbers[i];
    at->sum[i] += value;
    at->max[i] = std::max(at->max[i], value);
    at->min[i] = std::min(at->min[i], value);
  }
  for (std::size_t i = 0; i < spec_.distinct_fields.size(); ++i) at->distinct[i].insert(event.labels[i]);
  drop_old_tiles(state, oldest_kept_tile());
  // Now and then every entity: those no event touched for a while still
  // hold tiles that fell out of every window.
  if (updates_ % 4096 == 0 || entities_.size() > spec_.max_entities) bound_entities();
  return late ? outcome::late : outcome::applied;
}

void window_store::bound_entities() {
  const auto oldest = oldest_kept_tile();
  for (auto it = entities_.begin(); it != entities_.end();) {
    drop_old_tiles(it->second, oldest);
    it = it->second.tiles.empty() ? entities_.erase(it) : std::next(it);
  }
  if (entities_.size() <= spec_.max_entities) return;
  // Past the bound: drop the least recently updated, a hundredth of the
  // bound at a time so that this runs rarely.
  const std::size_t target = spec_.max_entities - std::min<std::size_t>(spec_.max_entities, spec_.max_entities / 100);
  std::vector<std::uint64_t> updates;
  updates.reserve(entities_.size());
  for (const auto& [_, state] : entities_) updates.push_back(state.last_update);
  const auto cut = updates.begin() + static_cast<std::ptrdiff_t>(entities_.size() - target);
  std::nth_element(updates.begin(), cut, updates.end());
  const auto threshold = *cut;
  for (auto it = entities_.begin(); it != entities_.end();) {
    it = it->second.last_update < threshold ? entities_.erase(it) : std::next(it);
  }
}

void window_store::evaluate(std::string_view entity, std::int64_t t_ms, std::span<float> out) const {
  std::shared_lock lock(mutex_);
  const auto found = entities_.find(std::string(entity));
  const auto last = floor_div(t_ms, spec_.tile_ms);
  const double nan = std::numeric_limits<double>::quiet_NaN();
  for (std::size_t w = 0; w < spec_.windows.size(); ++w) {
    const auto& window = spec_.windows[w];
    const auto first = last - window.tiles + 1;
    std::uint64_t count = 0;
    double sum = 0.0;
    double max = -std::numeric_limits<double>::infinity();
    double min = std::numeric_limits<double>::infinity();
    std::unordered_set<std::string_view> distinct;
    if (found != entities_.end()) {
      const auto& tiles = found->second.tiles;
      auto at = std::lower_bound(tiles.begin(), tiles.end(), first,
                                 [](const tile& t, std::int64_t i) { return t.index < i; });
      for (; at != tiles.end() && at->index <= last; ++at) {
        count += at->count;
        switch (window.kind) {
          case aggregate::sum:
          case aggregate::mean: sum += at->sum[window.slot]; break;
          case aggregate::max: max = std::max(max, at->max[window.slot]); break;
          case aggregate::min: min = std::min(min, at->min[window.slot]); break;
          case aggregate::distinct_count:
            for (const auto& value : at->distinct[window.slot]) distinct.insert(value);
            break;
          case aggregate::count: break;
        }
      }
    }
    double value = 0.0;
    switch (window.kind) {
      case aggregate::count: value = static_cast<double>(count); break;
      case aggregate::sum: value = sum; break;
      case aggregate::mean: value = count == 0 ? nan : sum / static_cast<double>(count); break;
      case aggregate::max: value = count == 0 ? nan : max; break;
      case aggregate::min: value = count == 0 ? nan : min; break;
      case aggregate::distinct_count: value = static_cast<double>(distinct.size()); break;
    }
    out[w] = static_cast<float>(value);
  }
}

std::optional<std::int64_t> window_store::latest_time_ms() const {
  std::shared_lock lock(mutex_);
  return latest_;
}

std::size_t window_store::entities() const {
  std::shared_lock lock(mutex_);
  return entities_.size();
}

}  // namespace surge::features
