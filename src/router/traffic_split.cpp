#include "router/traffic_split.hpp"

#include <algorithm>

namespace surge {

namespace {

// splitmix64's finaliser: consecutive counters become well-spread draws.
std::uint64_t mix(std::uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

}  // namespace

traffic_split::traffic_split(weights by_version) : weights_(std::move(by_version)) {
  std::sort(weights_.begin(), weights_.end());
}

std::uint64_t traffic_split::hash_key(std::string_view key) {
  std::uint64_t h = 0xcbf29ce484222325ull;  // FNV-1a
  for (const unsigned char c : key) h = (h ^ c) * 0x100000001b3ull;
  return mix(h);
}

std::optional<std::int64_t> traffic_split::pick_at(const weights& by_version,
                                                   const std::function<bool(std::int64_t)>& loaded,
                                                   std::uint64_t draw) {
  std::uint64_t total = 0;
  for (const auto& [version, weight] : by_version) {
    if (weight > 0 && loaded(version)) total += weight;
  }
  if (total == 0) return std::nullopt;
  // `draw`'s top 32 bits as a fraction of the total weight.
  std::uint64_t position = ((draw >> 32) * total) >> 32;
  for (const auto& [version, weight] : by_version) {
    if (weight == 0 || !loaded(version)) continue;
    if (position < weight) return version;
    position -= weight;
  }
  return std::nullopt;  // not reached
}

std::optional<std::int64_t> traffic_split::pick(const std::function<bool(std::int64_t)>& loaded,
                                                std::string_view key) const {
  if (!key.empty()) return pick_at(weights_, loaded, hash_key(key));
  // Successive multiples of the golden ratio (mod 1) spread evenly over
  // [0, 1): over any run of requests the shares stay close to the weights.
  const auto n = draws_.fetch_add(1, std::memory_order_relaxed) + 1;
  return pick_at(weights_, loaded, n * 0x9e3779b97f4a7c15ull);
}

}  // namespace surge
