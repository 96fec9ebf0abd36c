#include "frontends/grpc/grpc_auth.hpp"

namespace surge::grpc_frontend {

namespace {

class refused_stream_reactor final
    : public grpc::ServerBidiReactor<inference::ModelInferRequest, inference::ModelStreamInferResponse> {
 public:
  explicit refused_stream_reactor(grpc::Status status) { Finish(std::move(status)); }
  void OnDone() override { delete this; }
};

}  // namespace

std::optional<grpc::Status> refuse_unauthenticated(const auth::api_keys& keys, auth::endpoint_group group,
                                                   const grpc::CallbackServerContext& context) {
  if (!keys.guarded(group)) return std::nullopt;
  const auto& metadata = context.client_metadata();
  const auto field = [&](const char* name) -> std::optional<std::string_view> {
    auto it = metadata.find(name);
    if (it == metadata.end()) return std::nullopt;
    return std::string_view(it->second.data(), it->second.size());
  };
  const auto key = auth::presented_key(field("authorization"), field("x-api-key"));
  if (key && keys.accepts(group, *key)) return std::nullopt;
  return grpc::Status(grpc::StatusCode::UNAUTHENTICATED, auth::refusal_message(group, key.has_value()));
}

grpc::ServerBidiReactor<inference::ModelInferRequest, inference::ModelStreamInferResponse>* refused_stream(
    grpc::Status status) {
  return new refused_stream_reactor(std::move(status));
}

}  // namespace surge::grpc_frontend
