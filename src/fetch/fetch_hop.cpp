#include "fetch/fetch_hop.hpp"

#include <openssl/ssl.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>

namespace surge::fetch {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using asio::as_tuple;
using asio::use_awaitable;
using clock = std::chrono::steady_clock;

namespace {

constexpr std::uint32_t header_limit_bytes = 16 * 1024;

using hop_result = std::variant<hop_answer, fetch_error>;

class hop {
 public:
  explicit hop(const hop_request& request) : request_(request), where_(request.url.text()) {}

  fetch_error error(fetch_errc code, const std::string& what) const { return {code, where_ + ": " + what}; }

  // A failed operation: a total timeout once the deadline passed (whichever
  // layer reported it), otherwise code with the error's text.
  fetch_error failed(const boost::system::error_code& ec, fetch_errc code, std::string_view doing) const {
    if (ec == beast::error::timeout || clock::now() >= request_.deadline) {
      return error(fetch_errc::total_timeout, "no complete answer within " +
                                                  std::to_string(request_.limits.total_timeout.count()) + " ms");
    }
    return error(code, std::string(doing) + ": " + ec.message());
  }

  template <class Stream>
  asio::awaitable<hop_result> exchange(Stream& stream, beast::tcp_stream& tcp) {
    const auto& url = request_.url;
    http::request<http::empty_body> get{http::verb::get, url.target, 11};
    get.set(http::field::host, url.host_header());
    get.set(http::field::user_agent, "surge-fetch");
    get.set(http::field::accept, "*/*");
    get.keep_alive(false);
    tcp.expires_at(request_.deadline);
    auto [write_ec, written] = co_await http::async_write(stream, get, as_tuple(use_awaitable));
    if (write_ec) co_return failed(write_ec, fetch_errc::transfer_failed, "sending the request");

    beast::flat_buffer buffer;
    http::response_parser<http::string_body> parser;
    parser.header_limit(header_limit_bytes);
    // No limit while the header is read, so a status is seen before a size;
    // the Content-Length is checked below and the limit set for the body.
    parser.body_limit(boost::none);
    auto [header_ec, header_read] = co_await http::async_read_header(stream, buffer, parser, as_tuple(use_awaitable));
    if (header_ec) co_return failed(header_ec, fetch_errc::transfer_failed, "reading the response header");

    hop_answer answer;
    const auto& head = parser.get();
    answer.status = head.result_int();
    if (is_redirect(answer.status)) {
      if (auto location = head.find(http::field::location); location != head.end()) {
        answer.location = std::string(location->value());
        co_return answer;
      }
    }
    if (answer.status < 200 || answer.status > 299) {
      co_return fetch_error{fetch_errc::http_status, where_ + ": HTTP status " + std::to_string(answer.status),
                            answer.status};
    }
    const auto limit = request_.limits.max_body_bytes;
    if (const auto length = parser.content_length(); length && *length > limit) {
      co_return error(fetch_errc::too_large, "Content-Length " + std::to_string(*length) + " exceeds the limit of " +
                                                 std::to_string(limit) + " bytes");
    }
    parser.body_limit(limit);
    if (auto type = head.find(http::field::content_type); type != head.end()) {
      answer.content_type = std::string(type->value());
    }
    auto [body_ec, body_read] = co_await http::async_read(stream, buffer, parser, as_tuple(use_awaitable));
    if (body_ec == http::error::body_limit) {
      co_return error(fetch_errc::too_large, "body exceeds the limit of " + std::to_string(limit) + " bytes");
    }
    if (body_ec) co_return failed(body_ec, fetch_errc::transfer_failed, "reading the body");
    answer.body = std::move(parser.get().body());
    co_return answer;
  }

  asio::awaitable<hop_result> run() {
    const auto& url = request_.url;
    beast::tcp_stream tcp(co_await asio::this_coro::executor);
    const auto connect_deadline = std::min(request_.deadline, clock::now() + request_.limits.connect_timeout);
    tcp.expires_at(connect_deadline);
    auto [connect_ec, endpoint] = co_await tcp.async_connect(request_.endpoints, as_tuple(use_awaitable));
    if (connect_ec == beast::error::timeout && connect_deadline < request_.deadline) {
      co_return error(fetch_errc::connect_timeout,
                      "no connection within " + std::to_string(request_.limits.connect_timeout.count()) + " ms");
    }
    if (connect_ec) co_return failed(connect_ec, fetch_errc::connect_failed, "connecting");
    boost::system::error_code ignored;
    tcp.socket().set_option(asio::ip::tcp::no_delay(true), ignored);
    if (!url.https()) co_return co_await exchange(tcp, tcp);

    beast::ssl_stream<beast::tcp_stream> tls(std::move(tcp), request_.tls);
    if (!url.host_is_ip && !SSL_set_tlsext_host_name(tls.native_handle(), url.host.c_str())) {
      co_return error(fetch_errc::tls_failure, "cannot set the TLS server name");
    }
    if (request_.limits.verify_tls) {
      tls.set_verify_mode(asio::ssl::verify_peer);
      tls.set_verify_callback(asio::ssl::host_name_verification(url.host));
    } else {
      tls.set_verify_mode(asio::ssl::verify_none);
    }
    auto& layer = beast::get_lowest_layer(tls);
    layer.expires_at(request_.deadline);
    auto [handshake_ec] = co_await tls.async_handshake(asio::ssl::stream_base::client, as_tuple(use_awaitable));
    if (handshake_ec) co_return failed(handshake_ec, fetch_errc::tls_failure, "TLS handshake");
    co_return co_await exchange(tls, layer);
  }

 private:
  const hop_request& request_;
  std::string where_;
};

}  // namespace

bool is_redirect(unsigned status) {
  return status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
}

asio::awaitable<hop_result> run_hop(hop_request request) {
  hop runner(request);
  co_return co_await runner.run();
}

}  // namespace surge::fetch
