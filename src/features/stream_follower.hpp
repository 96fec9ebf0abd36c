#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <atomic>
#include <chrono>
#include <future>
#include <memory>
#include <optional>
#include <string>

#include "core/status.hpp"
#include "features/feature_spec.hpp"
#include "features/window_store.hpp"
#include "metrics/registry.hpp"
#include "redis/connection.hpp"
#include "redis/url.hpp"
#include "streams/entries.hpp"

namespace surge::features {

// What happened to the stream's entries, by outcome.
struct event_counters {
  metrics::counter* applied{nullptr};
  metrics::counter* late{nullptr};
  metrics::counter* too_late{nullptr};
  metrics::counter* malformed{nullptr};
};

// Reads a features model's event stream into its window_store: first the
// whole stream as it stands when started (XRANGE from the start to the
// last entry then, a thousand entries per read), so a restarted server
// rebuilds its windows from the stream, each entry once; then what is added
// after (XREAD BLOCK from the last entry read). On a connection of its own:
// XREAD BLOCK holds it.
class stream_follower : public std::enable_shared_from_this<stream_follower> {
 public:
  static std::shared_ptr<stream_follower> create(boost::asio::any_io_executor io, redis::endpoint where,
                                                 const feature_spec& spec, window_store& store,
                                                 event_counters counters);
  ~stream_follower();

  void start();
  // Blocks until the stream as it stood at start() is applied; the error
  // says why not (Redis unreachable, the key is not a stream, the timeout).
  // Call once, not on an I/O thread.
  std::optional<error> wait_caught_up(std::chrono::milliseconds timeout);
  // Ends the reading and waits for it. Not on an I/O thread.
  void stop();

 private:
  stream_follower(boost::asio::any_io_executor io, redis::endpoint where, const feature_spec& spec,
                  window_store& store, event_counters counters);
  boost::asio::awaitable<void> run();
  void apply_all(const std::vector<streams::stream_entry>& entries);
  void caught_up(std::optional<error> outcome);

  boost::asio::any_io_executor io_;
  const feature_spec& spec_;
  window_store& store_;
  event_counters counters_;
  std::shared_ptr<redis::connection> connection_;
  std::atomic<bool> stopped_{false};
  std::promise<std::optional<error>> caught_up_;
  bool caught_up_set_{false};  // run() only
  std::promise<void> finished_;
  bool started_{false};
};

}  // namespace surge::features
