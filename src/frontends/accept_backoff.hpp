#pragma once

#include <algorithm>
#include <chrono>

namespace surge {

// How long an acceptor that ran out of file descriptors (EMFILE, ENFILE,
// ENOBUFS, ENOMEM) waits before trying again, unless a connection closes
// first: retrying at once would spin, since the pending connection stays in
// the backlog and the listener stays readable. Doubles per failure up to
// `longest`; a successful accept resets it.
class accept_backoff {
 public:
  explicit accept_backoff(std::chrono::milliseconds shortest = std::chrono::milliseconds(10),
                          std::chrono::milliseconds longest = std::chrono::milliseconds(1000))
      : shortest_(shortest), longest_(longest), next_(shortest) {}

  std::chrono::milliseconds next() {
    const auto delay = next_;
    next_ = std::min(next_ * 2, longest_);
    return delay;
  }
  void reset() { next_ = shortest_; }

 private:
  std::chrono::milliseconds shortest_;
  std::chrono::milliseconds longest_;
  std::chrono::milliseconds next_;
};

}  // namespace surge
