#include "frontends/http/generation_stream.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cstring>

namespace surge::http {

using asio::as_tuple;
using asio::use_awaitable;

generation_stream_sink::generation_stream_sink(asio::any_io_executor connection)
    : wake_(connection, asio::steady_timer::time_point::max()) {}

void generation_stream_sink::send(inference_response response) {
  generation_chunk chunk;
  if (response.generation) {
    chunk = std::move(*response.generation);
  } else {
    // A decoupled model that is not a generator: its text_output is the text.
    for (const auto& output : response.outputs) {
      if (output.name != "text_output" || output.data.size() < 4) continue;
      std::uint32_t length = 0;
      std::memcpy(&length, output.data.data(), 4);
      chunk.text.assign(reinterpret_cast<const char*>(output.data.data()) + 4,
                        std::min<std::size_t>(length, output.data.size() - 4));
    }
  }
  {
    std::lock_guard lock(mutex_);
    chunks_.push_back(std::move(chunk));
  }
  wake();
}

void generation_stream_sink::finish(std::optional<error> failure) {
  {
    std::lock_guard lock(mutex_);
    failure_ = std::move(failure);
    finished_ = true;
  }
  wake();
}

void generation_stream_sink::wake() {
  asio::post(wake_.get_executor(), [self = shared_from_this()] { self->wake_.cancel(); });
}

generation_stream_sink::update generation_stream_sink::take() {
  update out;
  std::lock_guard lock(mutex_);
  out.chunks.swap(chunks_);
  if (finished_ && !taken_final_) {
    out.finished = true;
    out.failure = std::move(failure_);
    taken_final_ = true;
  }
  return out;
}

asio::awaitable<void> generation_stream_sink::wait() {
  {
    std::lock_guard lock(mutex_);
    if (!chunks_.empty() || (finished_ && !taken_final_)) co_return;
  }
  co_await wake_.async_wait(as_tuple(use_awaitable));
}

asio::awaitable<generation_outcome> run_generation(connection_stream& stream, model_version& model,
                                                   request_ptr request, chunk_writer on_chunks) {
  using namespace asio::experimental::awaitable_operators;
  auto sink = std::make_shared<generation_stream_sink>(co_await asio::this_coro::executor);
  request->sink = sink;
  auto cancellation = request->cancellation;
  model.submit(std::move(request));

  bool watching = true;
  for (;;) {
    auto update = sink->take();
    if (!update.chunks.empty() && !co_await on_chunks(update.chunks)) {
      cancellation->cancel();
      co_return generation_outcome{std::nullopt, true};
    }
    if (update.finished) co_return generation_outcome{std::move(update.failure), false};
    if (!watching) {
      co_await sink->wait();
      continue;
    }
    auto first = co_await (sink->wait() || client_left(stream));
    if (first.index() == 1) {
      if (std::get<1>(first)) {
        cancellation->cancel();
        co_return generation_outcome{std::nullopt, true};
      }
      watching = false;  // the client pipelined another request; writes still tell us if it leaves
    }
  }
}

}  // namespace surge::http
