#include "frontends/images/images_handler.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <atomic>
#include <memory>
#include <thread>

#include "frontends/http/request_checks.hpp"
#include "frontends/images/image_result_json.hpp"

namespace surge::images {

namespace asio = boost::asio;
namespace beast_http = boost::beast::http;

namespace {

constexpr std::string_view endpoint_path = "/v1/images/preprocess";

unsigned pool_size(unsigned requested) {
  return requested > 0 ? requested : std::max(1u, std::thread::hardware_concurrency());
}

// The per-URL JSON of one request, filled on the CPU pool; the last job
// wakes the connection coroutine on its own executor.
struct preprocess_batch {
  preprocess_batch(asio::any_io_executor connection, std::size_t n)
      : items(n), remaining(n), wake(connection, asio::steady_timer::time_point::max()) {}
  std::vector<fetch::fetch_result> fetched;
  std::vector<std::string> urls;
  image::preprocess_options options;
  std::vector<std::string> items;
  std::atomic<std::size_t> remaining;
  asio::steady_timer wake;
};

}  // namespace

images_handler::images_handler(images_options options)
    : options_(std::move(options)), fetcher_(options_.fetch), pool_(pool_size(options_.cpu_threads)) {}

images_handler::~images_handler() { pool_.join(); }

asio::awaitable<http::handler_result> images_handler::handle(http::request_message& request,
                                                             http::connection_stream&) {
  std::string_view path = request.target();
  if (auto q = path.find('?'); q != std::string_view::npos) path = path.substr(0, q);
  if (path != endpoint_path) {
    co_return http::error_response(beast_http::status::not_found, "no such endpoint: " + std::string(path),
                                   request.version(), request.keep_alive());
  }
  if (request.method() != beast_http::verb::post) co_return http::method_not_allowed(request, "POST");
  co_return co_await preprocess(request);
}

asio::awaitable<http::handler_result> images_handler::preprocess(http::request_message& request) {
  auto parsed = parse_preprocess_request(request.body(), options_.bounds);
  if (auto* failure = std::get_if<std::string>(&parsed)) {
    co_return http::error_response(beast_http::status::bad_request, *failure, request.version(),
                                   request.keep_alive());
  }
  auto& wanted = std::get<preprocess_request>(parsed);
  const auto executor = co_await asio::this_coro::executor;
  auto batch = std::make_shared<preprocess_batch>(executor, wanted.urls.size());
  batch->urls = wanted.urls;
  batch->options = wanted.options;
  // Downloads run on this executor: sockets and timers, no blocking call.
  batch->fetched = co_await fetcher_.fetch_all(std::move(wanted.urls));
  for (std::size_t i = 0; i < batch->items.size(); ++i) {
    asio::post(pool_, [batch, i] {
      batch->items[i] = result_json(batch->urls[i], batch->fetched[i], batch->options);
      batch->fetched[i] = fetch::fetch_error{};  // the body is no longer needed
      if (batch->remaining.fetch_sub(1) == 1) {
        asio::post(batch->wake.get_executor(), [batch] { batch->wake.cancel(); });
      }
    });
  }
  if (batch->remaining.load() != 0) co_await batch->wake.async_wait(asio::as_tuple(asio::use_awaitable));
  std::size_t total = 16;
  for (const auto& item : batch->items) total += item.size() + 1;
  std::string body;
  body.reserve(total);
  body += "{\"results\":[";
  for (std::size_t i = 0; i < batch->items.size(); ++i) {
    if (i > 0) body += ',';
    body += batch->items[i];
    std::string().swap(batch->items[i]);
  }
  body += "]}";
  co_return http::json_response(beast_http::status::ok, std::move(body), request.version(), request.keep_alive());
}

}  // namespace surge::images
