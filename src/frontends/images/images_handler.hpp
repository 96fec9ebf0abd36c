#pragma once

#include <boost/asio/thread_pool.hpp>
#include <cstddef>

#include "fetch/fetcher.hpp"
#include "frontends/http/http_server.hpp"
#include "frontends/images/preprocess_request.hpp"

namespace surge::images {

struct images_options {
  fetch::fetch_limits fetch;
  unsigned cpu_threads{0};  // decode and resize; 0: one per hardware thread
  request_bounds bounds;
};

// POST /v1/images/preprocess: downloads the URLs of the body concurrently on
// the connection's executor (fetch::fetcher), decodes, resizes and
// normalises each on a CPU pool of its own (never an I/O thread), and
// answers one tensor or one error per URL, in request order.
class images_handler final : public http::request_handler {
 public:
  explicit images_handler(images_options options);
  ~images_handler() override;

  http::asio::awaitable<http::handler_result> handle(http::request_message& request,
                                                     http::connection_stream& stream) override;

 private:
  http::asio::awaitable<http::handler_result> preprocess(http::request_message& request);

  images_options options_;
  fetch::fetcher fetcher_;
  boost::asio::thread_pool pool_;
};

}  // namespace surge::images
