#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/address.hpp>
#include <memory>
#include <string>
#include <variant>
#include <vector>

namespace surge::fetch {

// Host name to addresses: the seam tests use to make a name resolve to an
// address the policy refuses, without any DNS.
class host_resolver {
 public:
  virtual ~host_resolver() = default;
  // The addresses of host, or why it did not resolve. Runs on the caller's
  // executor and never blocks it.
  virtual boost::asio::awaitable<std::variant<std::vector<boost::asio::ip::address>, std::string>> resolve(
      std::string host) = 0;
};

// getaddrinfo through Asio's resolver (its own thread, so no I/O thread waits on DNS).
std::shared_ptr<host_resolver> make_system_resolver();

}  // namespace surge::fetch
