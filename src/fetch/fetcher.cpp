#include "fetch/fetcher.hpp"

#include <openssl/ssl.h>

#include <atomic>
#include <optional>
#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <stdexcept>

#include "fetch/fetch_admission.hpp"
#include "fetch/fetch_hop.hpp"
#include "fetch/fetch_url.hpp"

namespace surge::fetch {

namespace asio = boost::asio;
using asio::use_awaitable;
using clock = std::chrono::steady_clock;

namespace {

asio::ssl::context make_tls_context(const fetch_limits& limits) {
  asio::ssl::context context(asio::ssl::context::tls_client);
  SSL_CTX_set_min_proto_version(context.native_handle(), TLS1_2_VERSION);
  boost::system::error_code ec;
  if (limits.ca_file.empty()) {
    context.set_default_verify_paths(ec);
    if (ec) throw std::invalid_argument("fetch: cannot load the system CA store: " + ec.message());
  } else {
    context.load_verify_file(limits.ca_file, ec);
    if (ec) throw std::invalid_argument("fetch: cannot load CA file '" + limits.ca_file + "': " + ec.message());
  }
  return context;
}

std::string describe(const asio::ip::tcp::endpoint& endpoint) {
  const auto address = endpoint.address().to_string();
  return (endpoint.address().is_v6() ? "[" + address + "]" : address) + ":" + std::to_string(endpoint.port());
}

}  // namespace

struct fetcher::state {
  fetch_limits limits;
  std::shared_ptr<host_resolver> resolver;
  std::shared_ptr<fetch_admission> admission;
  asio::ssl::context tls;

  state(fetch_limits l, std::shared_ptr<host_resolver> r)
      : limits(std::move(l)),
        resolver(std::move(r)),
        admission(std::make_shared<fetch_admission>(limits.max_concurrency, limits.max_per_host)),
        tls(make_tls_context(limits)) {}

  // The host's addresses that the policy lets through, resolved once: the
  // hop connects to exactly these.
  asio::awaitable<std::variant<std::vector<asio::ip::tcp::endpoint>, fetch_error>> checked_endpoints(
      const fetch_url& url) {
    std::vector<asio::ip::address> addresses;
    if (url.host_is_ip) {
      addresses.push_back(asio::ip::make_address(url.host));
    } else {
      std::string host = url.host;
      auto resolved = co_await resolver->resolve(std::move(host));
      if (auto* failure = std::get_if<std::string>(&resolved)) {
        co_return fetch_error{fetch_errc::dns_failure, url.text() + ": cannot resolve '" + url.host + "': " + *failure};
      }
      addresses = std::move(std::get<std::vector<asio::ip::address>>(resolved));
    }
    std::vector<asio::ip::tcp::endpoint> allowed;
    std::string refusals;
    for (const auto& address : addresses) {
      const asio::ip::tcp::endpoint endpoint(address, url.port);
      if (auto why = endpoint_refusal(endpoint, limits.allowed)) {
        refusals += (refusals.empty() ? "" : ", ") + describe(endpoint) + " is " + *why;
      } else {
        allowed.push_back(endpoint);
      }
    }
    if (allowed.empty()) {
      co_return fetch_error{fetch_errc::refused_address, url.text() + ": refused address: " + refusals};
    }
    co_return allowed;
  }

  static asio::awaitable<fetch_result> run(std::shared_ptr<state> self, std::string text) {
    auto parsed = parse_fetch_url(text);
    if (auto* problem = std::get_if<fetch_error>(&parsed)) co_return std::move(*problem);
    auto url = std::move(std::get<fetch_url>(parsed));
    const auto& limits = self->limits;
    std::optional<clock::time_point> deadline;
    for (unsigned redirects = 0;;) {
      // One admission per hop, released before the next hop's: a fetch never
      // holds one host's slot while it waits for another's.
      std::string host = url.host;
      auto ticket = co_await self->admission->admit(std::move(host));
      if (!deadline) {
        deadline = clock::now() + limits.total_timeout;
      } else if (clock::now() >= *deadline) {
        co_return fetch_error{fetch_errc::total_timeout, url.text() + ": no complete answer within " +
                                                             std::to_string(limits.total_timeout.count()) + " ms"};
      }
      auto endpoints = co_await self->checked_endpoints(url);
      if (auto* problem = std::get_if<fetch_error>(&endpoints)) co_return std::move(*problem);
      // Named, not a temporary in the co_await: GCC 12 destroys such
      // temporaries twice.
      hop_request hop{url, std::move(std::get<std::vector<asio::ip::tcp::endpoint>>(endpoints)), *deadline, limits,
                      self->tls};
      auto outcome = co_await run_hop(std::move(hop));
      if (auto* problem = std::get_if<fetch_error>(&outcome)) co_return std::move(*problem);
      auto& answer = std::get<hop_answer>(outcome);
      if (answer.location.empty()) {
        co_return fetched_body{std::move(answer.body), std::move(answer.content_type), url.text()};
      }
      if (++redirects > limits.max_redirects) {
        co_return fetch_error{fetch_errc::too_many_redirects,
                              text + ": more than " + std::to_string(limits.max_redirects) + " redirects (last from " +
                                  url.text() + ")"};
      }
      auto next = resolve_location(url, answer.location);
      if (auto* problem = std::get_if<fetch_error>(&next)) {
        problem->message = "redirect from " + url.text() + ": " + problem->message;
        co_return std::move(*problem);
      }
      url = std::move(std::get<fetch_url>(next));
    }
  }
};

fetcher::fetcher(fetch_limits limits, std::shared_ptr<host_resolver> resolver)
    : state_(std::make_shared<state>(std::move(limits), resolver ? std::move(resolver) : make_system_resolver())) {}

fetcher::~fetcher() = default;

const fetch_limits& fetcher::limits() const { return state_->limits; }

asio::awaitable<fetch_result> fetcher::fetch(std::string url) { return state::run(state_, std::move(url)); }

asio::awaitable<std::vector<fetch_result>> fetcher::fetch_all(std::vector<std::string> urls) {
  if (urls.empty()) co_return std::vector<fetch_result>{};
  struct batch {
    std::vector<fetch_result> results;
    std::atomic<std::size_t> remaining;
    asio::any_io_executor executor;
    // Emplaced: Boost 1.81's any_completion_handler assignment recurses.
    std::optional<asio::any_completion_handler<void()>> done;
  };
  auto shared = std::make_shared<batch>();
  shared->results.resize(urls.size());
  shared->remaining = urls.size();
  auto executor = co_await asio::this_coro::executor;
  auto self = state_;
  co_await asio::async_initiate<decltype(use_awaitable), void()>(
      [&](auto handler) {
        // Set before any fetch starts: co_spawn only posts them.
        shared->executor = asio::get_associated_executor(handler);
        shared->done.emplace(std::move(handler));
        for (std::size_t i = 0; i < urls.size(); ++i) {
          asio::co_spawn(executor, state::run(self, std::move(urls[i])),
                         [shared, i](std::exception_ptr failure, fetch_result result) {
                           if (failure) {
                             result = fetch_error{fetch_errc::transfer_failed, "the fetch failed unexpectedly"};
                           }
                           shared->results[i] = std::move(result);
                           if (shared->remaining.fetch_sub(1) == 1) {
                             asio::post(shared->executor, [shared] { std::move(*shared->done)(); });
                           }
                         });
        }
      },
      use_awaitable);
  co_return std::move(shared->results);
}

}  // namespace surge::fetch
