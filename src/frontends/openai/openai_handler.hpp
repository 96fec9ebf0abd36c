#pragma once

#include <atomic>
#include <cstdint>

#include "frontends/http/http_server.hpp"
#include "router/model_registry.hpp"

namespace surge::openai {

// The OpenAI API for generative models, beside KServe on the HTTP port:
//   GET  /v1/models, /v1/models/{id}
//   POST /v1/completions, /v1/chat/completions   (stream: Server-Sent Events)
// Errors come in OpenAI's JSON shape; one that happens after the first chunk
// arrives as a final event before `data: [DONE]`.
class openai_handler final : public http::request_handler {
 public:
  explicit openai_handler(const model_registry& models);

  // The completion endpoints bound their body by the largest context served
  // (openai_limits.hpp): a longer Content-Length is refused before the body
  // is read.
  http::header_verdict screen(const http::request_header& header) override;
  boost::asio::awaitable<http::handler_result> handle(http::request_message& request,
                                                      http::connection_stream& stream) override;

 private:
  boost::asio::awaitable<http::handler_result> complete(http::request_message& request,
                                                        http::connection_stream& stream, bool chat);
  std::string next_id(bool chat);

  const model_registry& models_;
  std::int64_t started_;  // Unix seconds; "created" of every model
  std::atomic<std::uint64_t> next_{0};
  std::uint64_t id_base_;
};

}  // namespace surge::openai
