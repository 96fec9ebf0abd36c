#pragma once

#include <grpcpp/server_context.h>

#include <memory>
#include <string>

#include "core/inference_request.hpp"
#include "frontends/grpc/infer_codec.hpp"
#include "frontends/grpc/request_gate.hpp"
#include "router/model_registry.hpp"
#include "shared_memory/system_shared_memory.hpp"

namespace surge::grpc_frontend {

// What both infer RPCs need from the server; outlives every call.
struct infer_environment {
  const model_registry& models;
  request_gate& gate;
  system_shared_memory& shared_memory;
};

// Points the inputs that name a shared-memory region at their bytes and
// checks the regions the outputs name, before the request runs.
std::optional<error> attach_shared_memory(decoded_infer_request& decoded, const infer_environment& environment);

// The core request for a decoded message: its inputs, requested outputs,
// priority and timeout, the model it was routed to, and the W3C traceparent
// from the call's metadata when the client sent one.
request_ptr make_inference_request(decoded_infer_request decoded, const model_version& model,
                                   const grpc::CallbackServerContext& context, std::shared_ptr<response_sink> sink);

// Triton answers a decoupled model (0..N responses per request) only on
// ModelStreamInfer.
bool is_decoupled(const model_version& model);

}  // namespace surge::grpc_frontend
