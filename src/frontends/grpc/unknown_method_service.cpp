#include "frontends/grpc/unknown_method_service.hpp"

#include <string>

#include "core/client_text.hpp"

namespace surge::grpc_frontend {

namespace {

class refusing_reactor final : public grpc::ServerGenericBidiReactor {
 public:
  explicit refusing_reactor(const std::string& method) {
    Finish(grpc::Status(grpc::StatusCode::UNIMPLEMENTED,
                        "surge does not serve " + client_text(method) +
                            " (docs/triton-compatibility.md lists what it serves)"));
  }
  void OnDone() override { delete this; }
};

}  // namespace

grpc::ServerGenericBidiReactor* unknown_method_service::CreateReactor(grpc::GenericCallbackServerContext* context) {
  return new refusing_reactor(context->method());
}

}  // namespace surge::grpc_frontend
