#include "fetch/fetch_admission.hpp"

#include <algorithm>
#include <boost/asio/async_result.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <vector>

namespace surge::fetch {

namespace asio = boost::asio;

fetch_admission::fetch_admission(std::size_t max_concurrency, std::size_t max_per_host)
    : max_concurrency_(std::max<std::size_t>(max_concurrency, 1)),
      max_per_host_(std::max<std::size_t>(max_per_host, 1)) {}

fetch_admission::ticket::ticket(std::shared_ptr<fetch_admission> owner, std::string host)
    : owner_(std::move(owner)), host_(std::move(host)) {}

fetch_admission::ticket& fetch_admission::ticket::operator=(ticket&& other) noexcept {
  if (this != &other) {
    if (owner_) owner_->release(host_);
    owner_ = std::move(other.owner_);
    host_ = std::move(other.host_);
  }
  return *this;
}

fetch_admission::ticket::~ticket() {
  if (owner_) owner_->release(host_);
}

std::size_t fetch_admission::active() const {
  std::lock_guard lock(mutex_);
  return active_;
}

bool fetch_admission::try_admit(const std::string& host) {
  auto& state = hosts_[host];
  if (state.active < max_per_host_ && state.waiting.empty() && active_ < max_concurrency_ && waiting_.empty()) {
    ++state.active;
    ++active_;
    return true;
  }
  return false;
}

asio::awaitable<fetch_admission::ticket> fetch_admission::admit(std::string host) {
  {
    std::lock_guard lock(mutex_);
    if (try_admit(host)) co_return ticket(shared_from_this(), std::move(host));
  }
  co_await asio::async_initiate<decltype(asio::use_awaitable), void()>(
      [this, &host](auto handler) {
        waiter queued{asio::get_associated_executor(handler), std::move(handler)};
        std::unique_lock lock(mutex_);
        if (try_admit(host)) {
          lock.unlock();
          wake(std::move(queued));
          return;
        }
        auto& state = hosts_[host];
        if (state.active < max_per_host_ && state.waiting.empty()) {
          ++state.active;
          waiting_.push_back(std::move(queued));
        } else {
          state.waiting.push_back(std::move(queued));
        }
      },
      asio::use_awaitable);
  co_return ticket(shared_from_this(), std::move(host));
}

void fetch_admission::wake(waiter waiter) {
  asio::post(waiter.executor, [resume = std::move(waiter.resume)]() mutable { std::move(resume)(); });
}

void fetch_admission::release(const std::string& host) {
  std::vector<waiter> admitted;
  {
    std::lock_guard lock(mutex_);
    // The global slot goes to the oldest fetch that holds its host's slot.
    if (!waiting_.empty()) {
      admitted.push_back(std::move(waiting_.front()));
      waiting_.pop_front();
    } else {
      --active_;
    }
    auto state = hosts_.find(host);
    if (!state->second.waiting.empty()) {
      // The host's slot passes to its next fetch, which then needs a global slot.
      auto next = std::move(state->second.waiting.front());
      state->second.waiting.pop_front();
      if (active_ < max_concurrency_) {
        ++active_;
        admitted.push_back(std::move(next));
      } else {
        waiting_.push_back(std::move(next));
      }
    } else if (--state->second.active == 0) {
      hosts_.erase(state);
    }
  }
  for (auto& next : admitted) wake(std::move(next));
}

}  // namespace surge::fetch
