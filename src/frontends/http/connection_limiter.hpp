#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <list>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

namespace surge::http {

struct connection_limits {
  std::size_t max_connections{10000};           // open connections on one listener
  std::size_t max_connections_per_client{4096};  // of those, from one client address
};

// Which connections a listener holds and which of them may go. A connection
// is idle from its accept until a request's headers have arrived, and again
// after its response until the next request's headers: an idle one costs a
// file descriptor and nothing else, so when a limit is reached the one idle
// longest is evicted to make room (keep-alive clients reconnect; a flood of
// sockets that never send cannot lock out a health probe). Busy connections
// are never evicted: when every connection is busy the listener stops
// accepting until one closes.
//
// Thread-safe: sessions on different strands call it. `evict` callbacks are
// called with the lock released.
class connection_limiter {
 public:
  using connection_id = std::uint64_t;
  // Closes an evicted connection (posted to its strand by the caller's callback).
  using evict_callback = std::function<void()>;

  explicit connection_limiter(connection_limits limits) : limits_(limits) {}

  // True when one more connection could be admitted: below the limit, or an
  // idle connection could make room. The acceptor waits while false.
  bool can_accept() const;

  // The verdict on an accepted connection from `client`. Admitted ones are
  // idle and owe exactly one release(); evictions made for them have already
  // been called. A refusal evicts nothing.
  struct admission {
    std::optional<connection_id> id;  // nullopt: refused
    std::size_t evicted{0};           // idle connections evicted to make room
    // Refused because this client holds its limit of busy connections (close
    // it at once); otherwise every connection is busy, and the acceptor may
    // hold the socket until one closes.
    bool client_limit{false};
  };
  admission admit(const std::string& client, evict_callback evict);

  // A request's headers arrived. False when the connection was evicted
  // meanwhile: the session closes it instead of serving.
  bool mark_busy(connection_id id);
  // The response went out and the connection waits for the next request.
  void mark_idle(connection_id id);
  // The connection closed (evicted ones included). Returns true when it
  // freed room that a paused acceptor may use.
  bool release(connection_id id);

  std::size_t open_connections() const;
  std::size_t idle_connections() const;
  std::uint64_t evictions() const;
  std::uint64_t refusals() const;  // connections refused for their client's limit
  const connection_limits& limits() const { return limits_; }

 private:
  using idle_list = std::list<connection_id>;  // oldest idle first
  struct entry {
    std::string client;
    evict_callback evict;
    bool idle{false};
    idle_list::iterator global_position;
    idle_list::iterator client_position;
  };
  struct client_state {
    std::size_t open{0};
    idle_list idle;
  };

  // Takes an idle connection off the books; returns its callback for the
  // caller to run once the lock is released. Called with mutex_ held.
  evict_callback evict_locked(connection_id id);
  void make_idle_locked(connection_id id, entry& e);
  void make_busy_locked(entry& e);

  const connection_limits limits_;
  mutable std::mutex mutex_;
  connection_id next_id_{1};                              // guarded by mutex_
  std::unordered_map<connection_id, entry> connections_;  // guarded by mutex_: open, not evicted
  std::unordered_map<std::string, client_state> clients_; // guarded by mutex_
  idle_list idle_;                                        // guarded by mutex_
  std::uint64_t evictions_{0};                            // guarded by mutex_
  std::uint64_t refusals_{0};                             // guarded by mutex_
};

}  // namespace surge::http
