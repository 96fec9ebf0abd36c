#pragma once

#include <grpcpp/generic/async_generic_service.h>

namespace surge::grpc_frontend {

// Answers every call to a method the server does not serve (Triton's
// TraceSetting and LogSettings, a misspelt name) with UNIMPLEMENTED and a
// message naming the method, where gRPC alone would send an empty one.
class unknown_method_service final : public grpc::CallbackGenericService {
 public:
  grpc::ServerGenericBidiReactor* CreateReactor(grpc::GenericCallbackServerContext* context) override;
};

}  // namespace surge::grpc_frontend
