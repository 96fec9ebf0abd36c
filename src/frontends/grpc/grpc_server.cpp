#include "frontends/grpc/grpc_server.hpp"

#include <grpcpp/server.h>
#include <grpcpp/server_builder.h>

#include <algorithm>
#include <cstdint>
#include <limits>
#include <stdexcept>

#include "frontends/grpc/grpc_acceptor.hpp"
#include "frontends/grpc/inference_service.hpp"
#include "frontends/grpc/unknown_method_service.hpp"
#include "frontends/grpc/request_gate.hpp"

namespace surge::grpc_frontend {

namespace {

// gRPC wants "[v6]:port" for IPv6 literals.
std::string listen_address(const std::string& host, std::uint16_t port) {
  const bool ipv6 = host.find(':') != std::string::npos;
  return (ipv6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

int message_limit(std::size_t bytes) {
  return static_cast<int>(std::min<std::size_t>(bytes, std::numeric_limits<int>::max()));
}

int milliseconds_argument(std::chrono::milliseconds duration) {
  return static_cast<int>(std::clamp<std::int64_t>(duration.count(), 1, std::numeric_limits<int>::max()));
}

}  // namespace

grpc_server::grpc_server(boost::asio::io_context& io, const model_registry& models, grpc_limits limits,
                         const auth::api_keys& keys, system_shared_memory& shared_memory)
    : limits_(limits),
      acceptor_(std::make_unique<grpc_acceptor>(io)),
      gate_(std::make_unique<request_gate>(io)),
      service_(std::make_unique<inference_service>(models, *gate_, keys, shared_memory)),
      unknown_methods_(std::make_unique<unknown_method_service>()) {}

grpc_server::~grpc_server() {
  if (server_) shutdown();
}

std::uint16_t grpc_server::start(const std::string& host, std::uint16_t port) {
  // The port is ours (grpc_acceptor), not gRPC's: see there why.
  const auto bound_port = acceptor_->listen(host, port);
  grpc::ServerBuilder builder;
  builder.RegisterService(service_.get());
  builder.RegisterCallbackGenericService(unknown_methods_.get());
  builder.SetMaxReceiveMessageSize(message_limit(limits_.max_message_bytes));
  builder.SetMaxSendMessageSize(message_limit(limits_.max_message_bytes));
  // gRPC 1.51 has no limit on incoming connections: descriptors are guarded
  // by the HTTP limits leaving a reserve (descriptor_budget), and silent or
  // idle gRPC connections are closed so a flood of them does not stay.
  builder.AddChannelArgument(GRPC_ARG_MAX_CONNECTION_IDLE_MS, milliseconds_argument(limits_.max_connection_idle));
  builder.AddChannelArgument(GRPC_ARG_SERVER_HANDSHAKE_TIMEOUT_MS, milliseconds_argument(limits_.handshake_timeout));
  builder.AddChannelArgument(GRPC_ARG_MAX_CONCURRENT_STREAMS, limits_.max_concurrent_streams);
  server_ = builder.BuildAndStart();
  if (!server_) throw std::runtime_error("cannot start gRPC on " + listen_address(host, port));
  acceptor_->start(*server_);
  return bound_port;
}

void grpc_server::use_tls(const tls::tls_credentials& credentials) {
  acceptor_->use_tls(credentials, limits_.handshake_timeout);
}

void grpc_server::set_ready(bool ready) { service_->set_ready(ready); }

void grpc_server::enable_repository_control(model_registry& models, std::filesystem::path repository) {
  service_->enable_repository_control(models, std::move(repository));
}

void grpc_server::stop_admitting() { gate_->start_draining(); }

boost::asio::awaitable<void> grpc_server::wait_drained() { return gate_->wait_drained(); }

void grpc_server::shutdown() {
  if (!server_) return;
  acceptor_->stop();  // nothing is handed to the server once it shuts down
  // A deadline already passed: cancel at once whatever the drain left open.
  server_->Shutdown(std::chrono::system_clock::now());
  server_->Wait();
  server_.reset();
}

}  // namespace surge::grpc_frontend
