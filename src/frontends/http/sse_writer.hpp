#pragma once

#include <chrono>
#include <string_view>

#include "frontends/http/http_server.hpp"

namespace surge::http {

// Writes a text/event-stream response chunk by chunk: HTTP/1.1 chunked
// transfer encoding (HTTP/1.0: unframed, then close). Every write has a
// deadline so a client that stops reading cannot hold a connection forever.
class sse_writer {
 public:
  sse_writer(connection_stream& stream, unsigned http_version, std::chrono::seconds write_timeout = std::chrono::seconds{30});

  // Each returns false when the client is gone (or too slow); stop writing then.
  asio::awaitable<bool> start();
  // One event: "data: <payload>\n\n". Several may be queued with add() and
  // written together with flush().
  void add(std::string_view payload);
  asio::awaitable<bool> flush();
  asio::awaitable<bool> finish();

  bool keep_alive() const { return chunked_; }

 private:
  asio::awaitable<bool> write(std::string data);

  connection_stream& stream_;
  bool chunked_;
  std::chrono::seconds write_timeout_;
  std::string pending_;
};

}  // namespace surge::http
