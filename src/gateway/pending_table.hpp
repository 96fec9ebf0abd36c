#pragma once

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace surge::gateway {

// The requests a gateway has sent to worker pools and not answered yet.
// Pure bookkeeping with time passed in: the gateway drives it from its
// strand, arms its one timer for next_deadline(), and answers whatever an
// operation hands back. An entry leaves the table exactly once (taken by
// its reply, its deadline, its model's failure or shutdown), so every
// request is answered exactly once, and a reply whose id is no longer here
// (late, a duplicate, or never issued) finds nothing and is dropped.
//
// `Payload` is what the gateway needs to answer a request (its sink, its
// batch); the table never looks inside it. Not thread-safe.
template <typename Payload>
class pending_table {
 public:
  using clock = std::chrono::steady_clock;
  using id_type = std::uint64_t;

  struct entry {
    id_type id{0};
    std::string model;
    std::optional<clock::time_point> deadline;  // nullopt: waits for its reply (or the model's failure)
    // Where the request entry landed in the model's stream, once XADD
    // answered; empty before.
    std::string stream_entry_id;
    Payload payload;
  };

  // Adds a request to `model`; returns the id its reply will carry. Ids are
  // never reused, so a late reply can never answer a later request.
  id_type add(std::string model, std::optional<clock::time_point> deadline, Payload payload) {
    const auto id = ++last_id_;
    if (deadline) deadlines_.emplace(*deadline, id);
    ++outstanding_[model];
    entries_.emplace(id, entry{id, std::move(model), deadline, {}, std::move(payload)});
    return id;
  }

  // Records the request entry's stream id. False when the request is no
  // longer pending: it was answered before XADD returned.
  bool record_stream_entry(id_type id, std::string_view stream_entry_id) {
    const auto it = entries_.find(id);
    if (it == entries_.end()) return false;
    it->second.stream_entry_id = stream_entry_id;
    return true;
  }

  // The request a reply with this id answers; nullopt when it was answered
  // already or never existed.
  std::optional<entry> take(id_type id) {
    const auto it = entries_.find(id);
    if (it == entries_.end()) return std::nullopt;
    return remove(it);
  }

  // Every request whose deadline is at or before `now`, earliest first.
  std::vector<entry> take_expired(clock::time_point now) {
    std::vector<entry> expired;
    while (!deadlines_.empty() && deadlines_.begin()->first <= now) {
      expired.push_back(remove(entries_.find(deadlines_.begin()->second)));
    }
    return expired;
  }

  // Every request to `model`, oldest first.
  std::vector<entry> take_model(std::string_view model) {
    return take_if([model](const entry& e) { return e.model == model; });
  }

  // Every request (shutdown), oldest first.
  std::vector<entry> take_all() {
    return take_if([](const entry&) { return true; });
  }

  std::optional<clock::time_point> next_deadline() const {
    if (deadlines_.empty()) return std::nullopt;
    return deadlines_.begin()->first;
  }

  bool contains(id_type id) const { return entries_.contains(id); }
  std::size_t size() const { return entries_.size(); }
  bool empty() const { return entries_.empty(); }

  // Requests to `model` awaiting an answer.
  std::size_t outstanding(std::string_view model) const {
    const auto it = outstanding_.find(model);
    return it == outstanding_.end() ? 0 : it->second;
  }

 private:
  using entry_map = std::unordered_map<id_type, entry>;

  entry remove(typename entry_map::iterator it) {
    auto taken = std::move(it->second);
    entries_.erase(it);
    if (taken.deadline) deadlines_.erase({*taken.deadline, taken.id});
    const auto count = outstanding_.find(taken.model);
    if (--count->second == 0) outstanding_.erase(count);
    return taken;
  }

  template <typename Predicate>
  std::vector<entry> take_if(Predicate wanted) {
    std::vector<id_type> ids;
    for (const auto& [id, e] : entries_) {
      if (wanted(e)) ids.push_back(id);
    }
    std::sort(ids.begin(), ids.end());
    std::vector<entry> taken;
    taken.reserve(ids.size());
    for (const auto id : ids) taken.push_back(remove(entries_.find(id)));
    return taken;
  }

  entry_map entries_;
  std::set<std::pair<clock::time_point, id_type>> deadlines_;
  std::map<std::string, std::size_t, std::less<>> outstanding_;
  id_type last_id_{0};
};

}  // namespace surge::gateway
