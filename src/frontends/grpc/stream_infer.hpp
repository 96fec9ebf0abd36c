#pragma once

#include <grpcpp/support/server_callback.h>

#include "frontends/grpc/infer_environment.hpp"
#include "wire/grpc/grpc_service.pb.h"

namespace surge::grpc_frontend {

// ModelStreamInfer: every request read from the stream is submitted at once;
// every response its model sends becomes one ModelStreamInferResponse, and
// a request that fails becomes one carrying error_message while the stream
// goes on. The stream ends when the client has closed its side and every
// request has been answered, or when the call is cancelled (which cancels
// the requests still running).
grpc::ServerBidiReactor<inference::ModelInferRequest, inference::ModelStreamInferResponse>* start_model_stream_infer(
    grpc::CallbackServerContext* context, const infer_environment& environment);

}  // namespace surge::grpc_frontend
