#include "frontends/grpc/inference_service.hpp"

#include "frontends/server_extensions.hpp"

#include "config/model_config.hpp"

#include "core/client_text.hpp"
#include "frontends/grpc/grpc_auth.hpp"
#include "frontends/grpc/grpc_status.hpp"
#include "frontends/grpc/model_lookup.hpp"
#include "frontends/grpc/model_messages.hpp"
#include "frontends/grpc/stream_infer.hpp"

namespace surge::grpc_frontend {

namespace {

constexpr std::string_view server_version = "0.1.0";

grpc::ServerUnaryReactor* finish(grpc::CallbackServerContext* context, grpc::Status status = grpc::Status::OK) {
  auto* reactor = context->DefaultReactor();
  reactor->Finish(std::move(status));
  return reactor;
}

grpc::ServerUnaryReactor* fail(grpc::CallbackServerContext* context, const error& failure) {
  return finish(context, to_status(failure));
}

}  // namespace

inference_service::inference_service(const model_registry& models, request_gate& gate, const auth::api_keys& keys,
                                     system_shared_memory& shared_memory)
    : models_(models), keys_(keys), environment_{models, gate, shared_memory} {
  SetMessageAllocatorFor_ModelInfer(&infer_allocator_);
}

grpc::ServerUnaryReactor* inference_service::refuse(grpc::CallbackServerContext* context,
                                                    auth::endpoint_group group) const {
  auto denied = refuse_unauthenticated(keys_, group, *context);
  return denied ? finish(context, std::move(*denied)) : nullptr;
}

grpc::ServerUnaryReactor* inference_service::ServerLive(grpc::CallbackServerContext* context,
                                                        const inference::ServerLiveRequest*,
                                                        inference::ServerLiveResponse* response) {
  response->set_live(true);
  return finish(context);
}

grpc::ServerUnaryReactor* inference_service::ServerReady(grpc::CallbackServerContext* context,
                                                         const inference::ServerReadyRequest*,
                                                         inference::ServerReadyResponse* response) {
  response->set_ready(ready_.load(std::memory_order_acquire) && !environment_.gate.draining());
  return finish(context);
}

grpc::ServerUnaryReactor* inference_service::ModelReady(grpc::CallbackServerContext* context,
                                                        const inference::ModelReadyRequest* request,
                                                        inference::ModelReadyResponse* response) {
  // As Triton: a model that is unknown, failed to load or lacks the version
  // is simply not ready; only a malformed version is an error.
  auto found = find_servable_model(models_, request->name(), request->version());
  if (auto* failure = std::get_if<error>(&found); failure && failure->code == error_code::invalid_argument) {
    return fail(context, *failure);
  }
  const auto* model = std::get_if<std::shared_ptr<model_version>>(&found);
  response->set_ready(model && (*model)->ready());
  return finish(context);
}

grpc::ServerUnaryReactor* inference_service::ServerMetadata(grpc::CallbackServerContext* context,
                                                            const inference::ServerMetadataRequest*,
                                                            inference::ServerMetadataResponse* response) {
  if (auto* refused = refuse(context, auth::endpoint_group::inference)) return refused;
  response->set_name("surge");
  response->set_version(std::string(server_version));
  for (const auto extension : server_extensions) response->add_extensions(std::string(extension));
  return finish(context);
}

grpc::ServerUnaryReactor* inference_service::ModelMetadata(grpc::CallbackServerContext* context,
                                                           const inference::ModelMetadataRequest* request,
                                                           inference::ModelMetadataResponse* response) {
  if (auto* refused = refuse(context, auth::endpoint_group::inference)) return refused;
  const auto snapshot = models_.snapshot();
  auto found = find_servable_model(*snapshot, request->name(), request->version());
  if (auto* failure = std::get_if<error>(&found)) return fail(context, *failure);
  fill_model_metadata(*snapshot->find(request->name()), *response);
  return finish(context);
}

grpc::ServerUnaryReactor* inference_service::ModelInfer(grpc::CallbackServerContext* context,
                                                        const inference::ModelInferRequest* request,
                                                        inference::ModelInferResponse*) {
  if (auto* refused = refuse(context, auth::endpoint_group::inference)) return refused;
  return start_model_infer(context, request, environment_);
}

grpc::ServerBidiReactor<inference::ModelInferRequest, inference::ModelStreamInferResponse>*
inference_service::ModelStreamInfer(grpc::CallbackServerContext* context) {
  if (auto denied = refuse_unauthenticated(keys_, auth::endpoint_group::inference, *context)) {
    return refused_stream(std::move(*denied));
  }
  return start_model_stream_infer(context, environment_);
}

grpc::ServerUnaryReactor* inference_service::ModelConfig(grpc::CallbackServerContext* context,
                                                         const inference::ModelConfigRequest* request,
                                                         inference::ModelConfigResponse* response) {
  if (auto* refused = refuse(context, auth::endpoint_group::inference)) return refused;
  auto found = find_servable_model(models_, request->name(), request->version());
  if (auto* failure = std::get_if<error>(&found)) return fail(context, *failure);
  *response->mutable_config() = std::get<std::shared_ptr<model_version>>(found)->config();
  return finish(context);
}

grpc::ServerUnaryReactor* inference_service::ModelStatistics(grpc::CallbackServerContext* context,
                                                             const inference::ModelStatisticsRequest* request,
                                                             inference::ModelStatisticsResponse* response) {
  if (auto* refused = refuse(context, auth::endpoint_group::inference)) return refused;
  const auto snapshot = models_.snapshot();
  if (request->name().empty()) {
    for (const auto& [name, state] : snapshot->models) {
      for (const auto& [version, model] : state->versions) fill_model_statistics(*model, *response->add_model_stats());
    }
    return finish(context);
  }
  auto found = find_servable_model(*snapshot, request->name(), request->version());
  if (auto* failure = std::get_if<error>(&found)) return fail(context, *failure);
  if (!request->version().empty()) {
    fill_model_statistics(*std::get<std::shared_ptr<model_version>>(found), *response->add_model_stats());
  } else {
    for (const auto& [version, model] : snapshot->find(request->name())->versions) {
      fill_model_statistics(*model, *response->add_model_stats());
    }
  }
  return finish(context);
}

grpc::ServerUnaryReactor* inference_service::RepositoryIndex(grpc::CallbackServerContext* context,
                                                             const inference::RepositoryIndexRequest* request,
                                                             inference::RepositoryIndexResponse* response) {
  if (auto* refused = refuse(context, auth::endpoint_group::management)) return refused;
  if (!request->repository_name().empty()) {
    return fail(context, make_error(error_code::not_found,
                                    "unknown repository '" + client_text(request->repository_name()) +
                                        "': surge serves one repository, named by an empty repository_name"));
  }
  fill_repository_index(*models_.snapshot(), request->ready(), *response);
  return finish(context);
}

namespace {

constexpr const char* control_mode_none =
    "loading and unloading models at run time needs --model-control-mode explicit (the server runs in mode "
    "none or poll)";

}  // namespace

grpc::ServerUnaryReactor* inference_service::RepositoryModelLoad(grpc::CallbackServerContext* context,
                                                                 const inference::RepositoryModelLoadRequest* request,
                                                                 inference::RepositoryModelLoadResponse*) {
  if (auto* refused = refuse(context, auth::endpoint_group::management)) return refused;
  if (control_models_ == nullptr) return fail(context, make_error(error_code::invalid_argument, control_mode_none));
  if (!request->repository_name().empty()) {
    return fail(context, make_error(error_code::not_found, "unknown repository '" +
                                                               client_text(request->repository_name()) + "'"));
  }
  std::optional<config::ModelConfig> override;
  if (const auto it = request->parameters().find("config"); it != request->parameters().end()) {
    if (it->second.parameter_choice_case() != inference::ModelRepositoryParameter::kStringParam) {
      return fail(context, make_error(error_code::invalid_argument,
                                      "parameters.config must be a string holding the model config as JSON"));
    }
    auto parsed = parse_model_config_json(it->second.string_param(), "parameters.config");
    if (!parsed.config) return fail(context, make_error(error_code::invalid_argument, client_text(parsed.error)));
    if (!parsed.config->name().empty() && parsed.config->name() != request->model_name()) {
      return fail(context, make_error(error_code::invalid_argument,
                                      "parameters.config: name \"" + client_text(parsed.config->name()) +
                                          "\" is not the model loaded"));
    }
    override = std::move(parsed.config);
  }
  auto* reactor = context->DefaultReactor();
  control_models_->load_model_async(control_repository_, request->model_name(), std::move(override),
                                    [reactor](std::optional<error> outcome) {
                                      reactor->Finish(outcome ? to_status(*outcome) : grpc::Status::OK);
                                    });
  return reactor;
}

grpc::ServerUnaryReactor* inference_service::RepositoryModelUnload(
    grpc::CallbackServerContext* context, const inference::RepositoryModelUnloadRequest* request,
    inference::RepositoryModelUnloadResponse*) {
  if (auto* refused = refuse(context, auth::endpoint_group::management)) return refused;
  if (control_models_ == nullptr) return fail(context, make_error(error_code::invalid_argument, control_mode_none));
  if (!request->repository_name().empty()) {
    return fail(context, make_error(error_code::not_found, "unknown repository '" +
                                                               client_text(request->repository_name()) + "'"));
  }
  auto* reactor = context->DefaultReactor();
  control_models_->unload_async(request->model_name(), std::nullopt, [reactor](std::optional<error> outcome) {
    reactor->Finish(outcome ? to_status(*outcome) : grpc::Status::OK);
  });
  return reactor;
}

grpc::ServerUnaryReactor* inference_service::SystemSharedMemoryStatus(
    grpc::CallbackServerContext* context, const inference::SystemSharedMemoryStatusRequest* request,
    inference::SystemSharedMemoryStatusResponse* response) {
  if (auto* refused = refuse(context, auth::endpoint_group::inference)) return refused;
  auto regions = environment_.shared_memory.status(request->name().empty() ? std::nullopt
                                                                           : std::optional<std::string>(request->name()));
  if (auto* failure = std::get_if<error>(&regions)) return fail(context, *failure);
  for (const auto& region : std::get<0>(regions)) {
    auto& status = (*response->mutable_regions())[region.name];
    status.set_name(region.name);
    status.set_key(region.key);
    status.set_offset(region.offset);
    status.set_byte_size(region.byte_size);
  }
  return finish(context);
}

grpc::ServerUnaryReactor* inference_service::SystemSharedMemoryRegister(
    grpc::CallbackServerContext* context, const inference::SystemSharedMemoryRegisterRequest* request,
    inference::SystemSharedMemoryRegisterResponse*) {
  if (auto* refused = refuse(context, auth::endpoint_group::inference)) return refused;
  if (auto failure = environment_.shared_memory.register_region(request->name(), request->key(), request->offset(),
                                                                request->byte_size())) {
    return fail(context, *failure);
  }
  return finish(context);
}

grpc::ServerUnaryReactor* inference_service::SystemSharedMemoryUnregister(
    grpc::CallbackServerContext* context, const inference::SystemSharedMemoryUnregisterRequest* request,
    inference::SystemSharedMemoryUnregisterResponse*) {
  if (auto* refused = refuse(context, auth::endpoint_group::inference)) return refused;
  if (request->name().empty()) environment_.shared_memory.unregister_all();
  else environment_.shared_memory.unregister(request->name());
  return finish(context);
}

grpc::ServerUnaryReactor* inference_service::CudaSharedMemoryStatus(grpc::CallbackServerContext* context,
                                                                    const inference::CudaSharedMemoryStatusRequest* request,
                                                                    inference::CudaSharedMemoryStatusResponse*) {
  if (auto* refused = refuse(context, auth::endpoint_group::inference)) return refused;
  if (!request->name().empty()) {
    return finish(context, grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                                        "unable to find CUDA shared memory region '" + client_text(request->name()) +
                                            "': this surge build has no GPU support, so none can be registered"));
  }
  return finish(context);
}

grpc::ServerUnaryReactor* inference_service::CudaSharedMemoryRegister(
    grpc::CallbackServerContext* context, const inference::CudaSharedMemoryRegisterRequest*,
    inference::CudaSharedMemoryRegisterResponse*) {
  if (auto* refused = refuse(context, auth::endpoint_group::inference)) return refused;
  return finish(context, grpc::Status(grpc::StatusCode::UNIMPLEMENTED,
                                      "CUDA shared memory is not supported: this surge build has no GPU support; use "
                                      "system shared memory (SystemSharedMemoryRegister)"));
}

grpc::ServerUnaryReactor* inference_service::CudaSharedMemoryUnregister(
    grpc::CallbackServerContext* context, const inference::CudaSharedMemoryUnregisterRequest*,
    inference::CudaSharedMemoryUnregisterResponse*) {
  if (auto* refused = refuse(context, auth::endpoint_group::inference)) return refused;
  return finish(context);
}

}  // namespace surge::grpc_frontend
