#include "fetch/host_resolver.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace surge::fetch {

namespace asio = boost::asio;

namespace {

class system_resolver final : public host_resolver {
 public:
  asio::awaitable<std::variant<std::vector<asio::ip::address>, std::string>> resolve(std::string host) override {
    asio::ip::tcp::resolver resolver(co_await asio::this_coro::executor);
    auto [ec, results] = co_await resolver.async_resolve(host, "", asio::as_tuple(asio::use_awaitable));
    if (ec) co_return ec.message();
    std::vector<asio::ip::address> addresses;
    for (const auto& entry : results) addresses.push_back(entry.endpoint().address());
    if (addresses.empty()) co_return std::string("no addresses");
    co_return addresses;
  }
};

}  // namespace

std::shared_ptr<host_resolver> make_system_resolver() { return std::make_shared<system_resolver>(); }

}  // namespace surge::fetch
