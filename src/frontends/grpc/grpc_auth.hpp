#pragma once

#include <grpcpp/server_context.h>
#include <grpcpp/support/server_callback.h>

#include <optional>

#include "frontends/auth_keys.hpp"
#include "wire/grpc/grpc_service.pb.h"

namespace surge::grpc_frontend {

// UNAUTHENTICATED, with the reason, when `group` is guarded and the call's
// metadata ("authorization: Bearer <key>" or "x-api-key: <key>") carries no
// key of it; nullopt when the call may go on.
std::optional<grpc::Status> refuse_unauthenticated(const auth::api_keys& keys, auth::endpoint_group group,
                                                   const grpc::CallbackServerContext& context);

// A ModelStreamInfer reactor that only finishes the call with `status`.
grpc::ServerBidiReactor<inference::ModelInferRequest, inference::ModelStreamInferResponse>* refused_stream(
    grpc::Status status);

}  // namespace surge::grpc_frontend
