#pragma once

#include <cstddef>
#include <functional>
#include <mutex>

namespace surge {

// Counts the requests a queueless scheduler (an ensemble, a features model)
// has in flight, and tells its drain when the last one is answered: enter()
// admits one unless the gate was closed; drain() closes it and calls
// `drained` at once when nothing is in flight, else when the last leaves.
// Any thread; `drained` runs without the lock held.
class in_flight_gate {
 public:
  bool enter() {
    std::lock_guard lock(mutex_);
    if (!open_) return false;
    ++in_flight_;
    return true;
  }

  void leave() {
    std::function<void()> drained;
    {
      std::lock_guard lock(mutex_);
      if (--in_flight_ == 0 && drained_) drained = std::move(drained_);
    }
    if (drained) drained();
  }

  void drain(std::function<void()> drained) {
    {
      std::lock_guard lock(mutex_);
      open_ = false;
      if (in_flight_ > 0) {
        drained_ = std::move(drained);
        return;
      }
    }
    drained();
  }

  void close() {
    std::lock_guard lock(mutex_);
    open_ = false;
  }

  std::size_t in_flight() const {
    std::lock_guard lock(mutex_);
    return in_flight_;
  }

 private:
  mutable std::mutex mutex_;
  bool open_{true};
  std::size_t in_flight_{0};
  std::function<void()> drained_;  // set by drain() while requests are in flight
};

}  // namespace surge
