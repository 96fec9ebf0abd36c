#pragma once

#include <filesystem>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "frontends/auth_keys.hpp"
#include "router/model_registry.hpp"
#include "shared_memory/system_shared_memory.hpp"

namespace grpc {
class Server;
}

namespace surge::tls {
class tls_credentials;
}

namespace surge::grpc_frontend {

class grpc_acceptor;
class inference_service;
class unknown_method_service;
class request_gate;

struct grpc_limits {
  std::size_t max_message_bytes{64 * 1024 * 1024};  // each received and each sent message
  // A connection with no call open for this long is closed (GOAWAY), as HTTP
  // closes an idle keep-alive connection: idle sockets cannot pile up.
  std::chrono::milliseconds max_connection_idle{std::chrono::seconds(60)};
  // A connection that has not finished its HTTP/2 preface by then is closed
  // (gRPC's default is 120 s): sockets that never speak cannot pile up either.
  std::chrono::milliseconds handshake_timeout{std::chrono::seconds(10)};
  int max_concurrent_streams{1024};  // calls open at once on one connection
};

// The KServe v2 gRPC endpoint. gRPC runs its own threads for the transport
// and the callbacks; models answer on theirs. Shutdown mirrors the HTTP
// server's: stop admitting (ServerReady turns false, new infer requests are
// refused UNAVAILABLE), wait for what is in flight, then shut down, which
// cancels whatever is left (open streams included).
class grpc_server {
 public:
  // `keys` outlive the server; no keys: every RPC is open.
  grpc_server(boost::asio::io_context& io, const model_registry& models, grpc_limits limits,
              const auth::api_keys& keys, system_shared_memory& shared_memory);
  ~grpc_server();

  // Binds and starts serving; port 0 picks a free one. Returns the bound
  // port; throws std::runtime_error when the address cannot be bound.
  std::uint16_t start(const std::string& host, std::uint16_t port);
  // Serves TLS with `credentials` (reloaded in place); call before start().
  void use_tls(const tls::tls_credentials& credentials);

  // --model-control-mode explicit: RepositoryModelLoad and Unload. Before start().
  void enable_repository_control(model_registry& models, std::filesystem::path repository);
  void set_ready(bool ready);
  void stop_admitting();
  // Completes when no inference request is in flight (after stop_admitting()).
  boost::asio::awaitable<void> wait_drained();
  // Cancels every call still open and returns once each has finished.
  // Blocks: call it off the I/O threads, while the models can still answer.
  void shutdown();

 private:
  grpc_limits limits_;
  std::unique_ptr<grpc_acceptor> acceptor_;
  std::unique_ptr<request_gate> gate_;
  std::unique_ptr<inference_service> service_;
  std::unique_ptr<unknown_method_service> unknown_methods_;
  std::unique_ptr<grpc::Server> server_;
};

}  // namespace surge::grpc_frontend
