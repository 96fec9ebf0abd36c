#pragma once

#include <atomic>
#include <memory>

namespace surge {

// Shared between a frontend (which cancels when its client goes away) and the
// scheduler (which drops cancelled requests before they cost compute).
class cancellation_token {
 public:
  void cancel() noexcept { cancelled_.store(true, std::memory_order_release); }
  bool cancelled() const noexcept { return cancelled_.load(std::memory_order_acquire); }

 private:
  std::atomic<bool> cancelled_{false};
};

using cancellation_ptr = std::shared_ptr<cancellation_token>;

}  // namespace surge
