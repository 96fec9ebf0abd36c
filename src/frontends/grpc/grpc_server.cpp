#include "frontends/grpc/grpc_server.hpp"

#include <grpcpp/server.h>
#include <grpcpp/server_builder.h>

#include <limits>
#include <stdexcept>

#include "frontends/grpc/inference_service.hpp"
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

}  // namespace

grpc_server::grpc_server(boost::asio::io_context& io, const model_registry& models, grpc_limits limits,
                         const auth::api_keys& keys)
    : limits_(limits),
      gate_(std::make_unique<request_gate>(io)),
      service_(std::make_unique<inference_service>(models, *gate_, keys)) {}

grpc_server::~grpc_server() {
  if (server_) shutdown();
}

std::uint16_t grpc_server::start(const std::string& host, std::uint16_t port) {
  grpc::ServerBuilder builder;
  int bound_port = 0;
  builder.AddListeningPort(listen_address(host, port), grpc::InsecureServerCredentials(), &bound_port);
  builder.RegisterService(service_.get());
  builder.SetMaxReceiveMessageSize(message_limit(limits_.max_message_bytes));
  builder.SetMaxSendMessageSize(message_limit(limits_.max_message_bytes));
  // gRPC sets SO_REUSEPORT by default, which would let a second server bind
  // a port that is in use instead of failing as the HTTP listener does.
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  server_ = builder.BuildAndStart();
  if (!server_ || bound_port == 0) {
    server_.reset();
    throw std::runtime_error("cannot bind gRPC to " + listen_address(host, port));
  }
  return static_cast<std::uint16_t>(bound_port);
}

void grpc_server::set_ready(bool ready) { service_->set_ready(ready); }

void grpc_server::stop_admitting() { gate_->start_draining(); }

boost::asio::awaitable<void> grpc_server::wait_drained() { return gate_->wait_drained(); }

void grpc_server::shutdown() {
  if (!server_) return;
  // A deadline already passed: cancel at once whatever the drain left open.
  server_->Shutdown(std::chrono::system_clock::now());
  server_->Wait();
  server_.reset();
}

}  // namespace surge::grpc_frontend
