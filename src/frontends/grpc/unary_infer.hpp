#pragma once

#include <grpcpp/support/message_allocator.h>
#include <grpcpp/support/server_callback.h>

#include "frontends/grpc/infer_environment.hpp"
#include "wire/grpc/grpc_service.pb.h"

namespace surge::grpc_frontend {

// Allocates each ModelInfer call's request and response behind a shared
// pointer, so input tensors can view the request's raw bytes without a copy
// and keep them alive after the call is gone (a cancelled call's request may
// still sit in a queue or run in an instance).
class infer_message_allocator final
    : public grpc::MessageAllocator<inference::ModelInferRequest, inference::ModelInferResponse> {
 public:
  grpc::MessageHolder<inference::ModelInferRequest, inference::ModelInferResponse>* AllocateMessages() override;
};

// ModelInfer: decodes, routes and submits the request, and returns the
// reactor the response sink finishes. Never blocks: the model's answer
// finishes the call from whichever thread produces it. Requires the
// service's ModelInfer to use infer_message_allocator.
grpc::ServerUnaryReactor* start_model_infer(grpc::CallbackServerContext* context,
                                            const inference::ModelInferRequest* request,
                                            const infer_environment& environment);

}  // namespace surge::grpc_frontend
