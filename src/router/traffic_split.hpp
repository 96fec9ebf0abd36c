#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string_view>
#include <utility>
#include <vector>

namespace surge {

// How a model name's requests that name no version are shared among its
// loaded versions (docs/traffic.md): by weight, each request drawn anew,
// or, for requests that carry a routing key, the same version for the
// same key while the weights stay. Immutable once published, but for the
// draw counter.
class traffic_split {
 public:
  using weights = std::vector<std::pair<std::int64_t, std::uint32_t>>;  // version, weight; versions ascending

  explicit traffic_split(weights by_version);

  const weights& by_version() const { return weights_; }

  // The version for one request, among those `loaded` says are; nullopt
  // when no version with weight is loaded (the caller falls back to the
  // highest). Without a key the draws are a low-discrepancy sequence, so
  // over any run of requests the shares stay within a few requests of the
  // weights.
  std::optional<std::int64_t> pick(const std::function<bool(std::int64_t)>& loaded, std::string_view key = {}) const;

  // The version the fraction draw / 2^64 of the loaded versions' total
  // weight falls on. Pure.
  static std::optional<std::int64_t> pick_at(const weights& by_version, const std::function<bool(std::int64_t)>& loaded,
                                             std::uint64_t draw);
  static std::uint64_t hash_key(std::string_view key);

 private:
  weights weights_;
  mutable std::atomic<std::uint64_t> draws_{0};
};

// A model name's current split, shared by every registered_model of that
// name the registry publishes, so that changing it publishes nothing and
// waits for no load. Null: requests naming no version go to the highest.
class traffic_slot {
 public:
  // Null while none is set. Without a split this is one relaxed-shared
  // load: the shared_ptr (whose atomic load takes a spin bit, a write every
  // reader would contend on) is read only while a split is set.
  std::shared_ptr<const traffic_split> get() const {
    if (!active_.load(std::memory_order_acquire)) return nullptr;
    return split_.load(std::memory_order_acquire);
  }
  void set(std::shared_ptr<const traffic_split> split) {
    const bool active = split != nullptr;
    split_.store(std::move(split), std::memory_order_release);
    active_.store(active, std::memory_order_release);
  }

 private:
  std::atomic<bool> active_{false};
  std::atomic<std::shared_ptr<const traffic_split>> split_;
};

}  // namespace surge
