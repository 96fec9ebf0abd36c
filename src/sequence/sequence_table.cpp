#include "sequence/sequence_table.hpp"

#include <algorithm>

#include "core/client_text.hpp"

namespace surge {

sequence_table::sequence_table(std::string model, std::uint32_t slots, clock::duration idle,
                               std::size_t max_waiting_sequences)
    : model_(std::move(model)), slots_(std::max<std::uint32_t>(1, slots)), idle_(idle),
      max_waiting_sequences_(max_waiting_sequences) {
  for (std::uint32_t slot = slots_; slot > 0; --slot) free_slots_.push_back(slot - 1);
}

error sequence_table::not_live(const std::string& id) const {
  const auto label = "sequence '" + client_text(id) + "' of model '" + model_ + "'";
  if (timed_out_.contains(id)) {
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(idle_).count();
    return make_error(error_code::invalid_argument,
                      label + " timed out: no request came for " + std::to_string(ms) +
                          " ms (max_sequence_idle_microseconds) and its slot was freed; start it again with "
                          "sequence_start");
  }
  return make_error(error_code::invalid_argument,
                    label + " is not active: the first request of a sequence must set sequence_start");
}

void sequence_table::arrive(request_ptr request, sequence_controls controls, clock::time_point now, effects& out) {
  const std::string id = controls.id;
  if (auto it = live_.find(id); it != live_.end()) {
    it->second.waiting.push_back(queued{std::move(request), std::move(controls)});
    if (!it->second.running) release_next(it->second, out);
    return;
  }
  if (auto it = pending_.find(id); it != pending_.end()) {
    it->second.push_back(queued{std::move(request), std::move(controls)});
    return;
  }
  if (!controls.start) {
    out.refused.emplace_back(std::move(request), not_live(id));
    return;
  }
  if (timed_out_.erase(id) > 0) {
    timed_out_order_.erase(std::find(timed_out_order_.begin(), timed_out_order_.end(), id));
  }
  if (!free_slots_.empty()) {
    const auto slot = free_slots_.back();
    free_slots_.pop_back();
    auto& s = live_[id];
    s.slot = slot;
    s.last = now;
    s.waiting.push_back(queued{std::move(request), std::move(controls)});
    release_next(s, out);
    return;
  }
  if (pending_order_.size() >= max_waiting_sequences_) {
    auto failure = make_error(error_code::unavailable,
                              "model '" + model_ + "' has every one of its " + std::to_string(slots_) +
                                  " sequence slots taken and " + std::to_string(pending_order_.size()) +
                                  " sequences waiting for one; retry later");
    failure.retry_after = std::chrono::seconds(1);
    out.refused.emplace_back(std::move(request), std::move(failure));
    return;
  }
  pending_order_.push_back(id);
  pending_[id].push_back(queued{std::move(request), std::move(controls)});
}

void sequence_table::release_next(sequence& s, effects& out) {
  auto next = std::move(s.waiting.front());
  s.waiting.pop_front();
  s.running = true;
  s.running_ends = next.controls.end;
  out.run.push_back(step{std::move(next.request), std::move(next.controls), s.slot});
}

void sequence_table::finished(const std::string& id, bool ended, clock::time_point now, effects& out) {
  auto it = live_.find(id);
  if (it == live_.end() || !it->second.running) return;
  auto& s = it->second;
  s.running = false;
  s.last = now;
  if (!(ended || s.running_ends)) {
    if (!s.waiting.empty()) release_next(s, out);
    return;
  }
  // The sequence is over; what came after its end arrives again, as the
  // first requests of whatever sequence reuses the id.
  auto after = std::move(s.waiting);
  const auto slot = s.slot;
  live_.erase(it);
  free_slot(slot, now, out);
  for (auto& q : after) arrive(std::move(q.request), std::move(q.controls), now, out);
}

void sequence_table::free_slot(std::uint32_t slot, clock::time_point now, effects& out) {
  while (!pending_order_.empty()) {
    const auto id = std::move(pending_order_.front());
    pending_order_.pop_front();
    auto requests = std::move(pending_[id]);
    pending_.erase(id);
    if (requests.empty()) continue;
    auto& s = live_[id];
    s.slot = slot;
    s.last = now;
    s.waiting = std::move(requests);
    release_next(s, out);
    return;
  }
  free_slots_.push_back(slot);
}

void sequence_table::remember_timed_out(const std::string& id) {
  if (!timed_out_.insert(id).second) return;
  timed_out_order_.push_back(id);
  if (timed_out_order_.size() > remembered_timeouts) {
    timed_out_.erase(timed_out_order_.front());
    timed_out_order_.pop_front();
  }
}

void sequence_table::expire(clock::time_point now, effects& out) {
  std::vector<std::string> idle;
  for (const auto& [id, s] : live_) {
    if (!s.running && s.waiting.empty() && now - s.last >= idle_) idle.push_back(id);
  }
  for (const auto& id : idle) {
    const auto slot = live_[id].slot;
    live_.erase(id);
    remember_timed_out(id);
    free_slot(slot, now, out);
  }
}

std::optional<clock::time_point> sequence_table::next_expiry() const {
  std::optional<clock::time_point> next;
  for (const auto& [id, s] : live_) {
    if (s.running || !s.waiting.empty()) continue;
    const auto at = s.last + idle_;
    if (!next || at < *next) next = at;
  }
  return next;
}

std::vector<request_ptr> sequence_table::take_waiting() {
  std::vector<request_ptr> out;
  for (auto& [id, s] : live_) {
    for (auto& q : s.waiting) out.push_back(std::move(q.request));
  }
  for (auto& [id, requests] : pending_) {
    for (auto& q : requests) out.push_back(std::move(q.request));
  }
  live_.clear();
  pending_.clear();
  pending_order_.clear();
  free_slots_.clear();
  for (std::uint32_t slot = slots_; slot > 0; --slot) free_slots_.push_back(slot - 1);
  return out;
}

}  // namespace surge
