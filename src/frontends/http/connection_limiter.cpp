#include "frontends/http/connection_limiter.hpp"

#include <utility>

namespace surge::http {

bool connection_limiter::can_accept() const {
  std::lock_guard lock(mutex_);
  return connections_.size() < limits_.max_connections || !idle_.empty();
}

connection_limiter::admission connection_limiter::admit(const std::string& client, evict_callback evict) {
  admission verdict;
  evict_callback victim;
  {
    std::lock_guard lock(mutex_);
    auto& state = clients_[client];
    // Decide before evicting anything, so a refusal costs no connection.
    const bool client_full =
        limits_.max_connections_per_client != 0 && state.open >= limits_.max_connections_per_client;
    const bool full = connections_.size() >= limits_.max_connections;
    if ((client_full && state.idle.empty()) || (!client_full && full && idle_.empty())) {
      verdict.client_limit = client_full;
      if (client_full) ++refusals_;
      if (state.open == 0) clients_.erase(client);
      return verdict;
    }
    // The client's own idle connection goes first when it is at its limit;
    // that also makes room under the global limit.
    if (client_full) {
      victim = evict_locked(state.idle.front());
    } else if (full) {
      victim = evict_locked(idle_.front());
    }
    const connection_id id = next_id_++;
    auto& e = connections_[id];
    e.client = client;
    e.evict = std::move(evict);
    ++clients_[client].open;
    make_idle_locked(id, e);
    verdict.id = id;
    verdict.evicted = victim ? 1 : 0;
  }
  if (victim) victim();
  return verdict;
}

bool connection_limiter::mark_busy(connection_id id) {
  std::lock_guard lock(mutex_);
  auto it = connections_.find(id);
  if (it == connections_.end()) return false;
  make_busy_locked(it->second);
  return true;
}

void connection_limiter::mark_idle(connection_id id) {
  std::lock_guard lock(mutex_);
  auto it = connections_.find(id);
  if (it != connections_.end() && !it->second.idle) make_idle_locked(id, it->second);
}

bool connection_limiter::release(connection_id id) {
  std::lock_guard lock(mutex_);
  auto it = connections_.find(id);
  if (it == connections_.end()) return false;  // evicted: its room was given back then
  auto& e = it->second;
  make_busy_locked(e);
  auto client = clients_.find(e.client);
  if (--client->second.open == 0) clients_.erase(client);
  connections_.erase(it);
  return true;
}

std::size_t connection_limiter::open_connections() const {
  std::lock_guard lock(mutex_);
  return connections_.size();
}

std::size_t connection_limiter::idle_connections() const {
  std::lock_guard lock(mutex_);
  return idle_.size();
}

std::uint64_t connection_limiter::evictions() const {
  std::lock_guard lock(mutex_);
  return evictions_;
}

std::uint64_t connection_limiter::refusals() const {
  std::lock_guard lock(mutex_);
  return refusals_;
}

connection_limiter::evict_callback connection_limiter::evict_locked(connection_id id) {
  auto it = connections_.find(id);
  auto& e = it->second;
  make_busy_locked(e);
  auto client = clients_.find(e.client);
  if (--client->second.open == 0) clients_.erase(client);
  auto callback = std::move(e.evict);
  connections_.erase(it);
  ++evictions_;
  return callback;
}

void connection_limiter::make_idle_locked(connection_id id, entry& e) {
  e.idle = true;
  e.global_position = idle_.insert(idle_.end(), id);
  auto& client = clients_[e.client];
  e.client_position = client.idle.insert(client.idle.end(), id);
}

void connection_limiter::make_busy_locked(entry& e) {
  if (!e.idle) return;
  e.idle = false;
  idle_.erase(e.global_position);
  if (auto client = clients_.find(e.client); client != clients_.end()) client->second.idle.erase(e.client_position);
}

}  // namespace surge::http
