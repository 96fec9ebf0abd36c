#pragma once

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <cstddef>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>

namespace surge::fetch {

// Admission of fetches under a global and a per-host limit. A fetch beyond
// either limit waits in FIFO order; nothing is refused. A fetch takes its
// host's slot first and the global slot second, so fetches queued behind a
// busy host hold no global slot and never delay other hosts.
class fetch_admission : public std::enable_shared_from_this<fetch_admission> {
 public:
  // Both limits at least 1.
  fetch_admission(std::size_t max_concurrency, std::size_t max_per_host);

  // Both slots of one fetch of one host; gives them back when destroyed.
  class ticket {
   public:
    ticket() = default;
    ticket(std::shared_ptr<fetch_admission> owner, std::string host);
    ticket(ticket&& other) noexcept = default;
    ticket& operator=(ticket&& other) noexcept;
    ~ticket();

   private:
    std::shared_ptr<fetch_admission> owner_;
    std::string host_;
  };

  boost::asio::awaitable<ticket> admit(std::string host);

  std::size_t active() const;  // fetches holding both slots

 private:
  // A queued admit: its coroutine and the executor to resume it on.
  // Move-only, said out loud: any_completion_handler's converting constructor
  // would otherwise make it look copyable to containers, and a "copy" wraps
  // the handler in itself without end.
  struct waiter {
    waiter(boost::asio::any_io_executor e, boost::asio::any_completion_handler<void()> r)
        : executor(std::move(e)), resume(std::move(r)) {}
    waiter(waiter&&) noexcept = default;
    waiter& operator=(waiter&&) = delete;  // any_completion_handler's assignment recurses in 1.81
    waiter(const waiter&) = delete;
    waiter& operator=(const waiter&) = delete;

    boost::asio::any_io_executor executor;
    boost::asio::any_completion_handler<void()> resume;
  };
  static void wake(waiter waiter);
  struct host_state {
    std::size_t active{0};
    std::deque<waiter> waiting;  // for this host's slot
  };

  bool try_admit(const std::string& host);  // mutex_ held
  void release(const std::string& host);

  const std::size_t max_concurrency_;
  const std::size_t max_per_host_;
  mutable std::mutex mutex_;
  std::size_t active_{0};            // guarded by mutex_
  std::deque<waiter> waiting_;       // holding their host's slot, for a global one; guarded by mutex_
  std::map<std::string, host_state> hosts_;  // hosts with a slot taken; guarded by mutex_
};

}  // namespace surge::fetch
