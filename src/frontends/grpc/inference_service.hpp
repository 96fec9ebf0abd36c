#pragma once

#include <filesystem>

#include <atomic>

#include "frontends/auth_keys.hpp"
#include "frontends/grpc/infer_environment.hpp"
#include "frontends/grpc/unary_infer.hpp"
#include "wire/grpc/grpc_service.grpc.pb.h"

namespace surge::grpc_frontend {

// inference.GRPCInferenceService on gRPC's callback API: no handler blocks a
// gRPC thread; the infer RPCs are finished by their response sinks.
class inference_service final : public inference::GRPCInferenceService::CallbackService {
 public:
  // `keys` guard every RPC but the health ones (ServerLive, ServerReady, ModelReady).
  inference_service(const model_registry& models, request_gate& gate, const auth::api_keys& keys,
                    system_shared_memory& shared_memory);

  // ServerReady; false before models load and while draining.
  void set_ready(bool ready) { ready_.store(ready, std::memory_order_release); }

  grpc::ServerUnaryReactor* ServerLive(grpc::CallbackServerContext* context,
                                       const inference::ServerLiveRequest* request,
                                       inference::ServerLiveResponse* response) override;
  grpc::ServerUnaryReactor* ServerReady(grpc::CallbackServerContext* context,
                                        const inference::ServerReadyRequest* request,
                                        inference::ServerReadyResponse* response) override;
  grpc::ServerUnaryReactor* ModelReady(grpc::CallbackServerContext* context,
                                       const inference::ModelReadyRequest* request,
                                       inference::ModelReadyResponse* response) override;
  grpc::ServerUnaryReactor* ServerMetadata(grpc::CallbackServerContext* context,
                                           const inference::ServerMetadataRequest* request,
                                           inference::ServerMetadataResponse* response) override;
  grpc::ServerUnaryReactor* ModelMetadata(grpc::CallbackServerContext* context,
                                          const inference::ModelMetadataRequest* request,
                                          inference::ModelMetadataResponse* response) override;
  grpc::ServerUnaryReactor* ModelInfer(grpc::CallbackServerContext* context,
                                       const inference::ModelInferRequest* request,
                                       inference::ModelInferResponse* response) override;
  grpc::ServerBidiReactor<inference::ModelInferRequest, inference::ModelStreamInferResponse>* ModelStreamInfer(
      grpc::CallbackServerContext* context) override;
  grpc::ServerUnaryReactor* ModelConfig(grpc::CallbackServerContext* context,
                                        const inference::ModelConfigRequest* request,
                                        inference::ModelConfigResponse* response) override;
  grpc::ServerUnaryReactor* ModelStatistics(grpc::CallbackServerContext* context,
                                            const inference::ModelStatisticsRequest* request,
                                            inference::ModelStatisticsResponse* response) override;
  grpc::ServerUnaryReactor* RepositoryIndex(grpc::CallbackServerContext* context,
                                            const inference::RepositoryIndexRequest* request,
                                            inference::RepositoryIndexResponse* response) override;
  grpc::ServerUnaryReactor* RepositoryModelLoad(grpc::CallbackServerContext* context,
                                                const inference::RepositoryModelLoadRequest* request,
                                                inference::RepositoryModelLoadResponse* response) override;
  grpc::ServerUnaryReactor* RepositoryModelUnload(grpc::CallbackServerContext* context,
                                                  const inference::RepositoryModelUnloadRequest* request,
                                                  inference::RepositoryModelUnloadResponse* response) override;
  grpc::ServerUnaryReactor* SystemSharedMemoryStatus(grpc::CallbackServerContext* context,
                                                     const inference::SystemSharedMemoryStatusRequest* request,
                                                     inference::SystemSharedMemoryStatusResponse* response) override;
  grpc::ServerUnaryReactor* SystemSharedMemoryRegister(grpc::CallbackServerContext* context,
                                                       const inference::SystemSharedMemoryRegisterRequest* request,
                                                       inference::SystemSharedMemoryRegisterResponse* response) override;
  grpc::ServerUnaryReactor* SystemSharedMemoryUnregister(
      grpc::CallbackServerContext* context, const inference::SystemSharedMemoryUnregisterRequest* request,
      inference::SystemSharedMemoryUnregisterResponse* response) override;
  grpc::ServerUnaryReactor* CudaSharedMemoryStatus(grpc::CallbackServerContext* context,
                                                   const inference::CudaSharedMemoryStatusRequest* request,
                                                   inference::CudaSharedMemoryStatusResponse* response) override;
  grpc::ServerUnaryReactor* CudaSharedMemoryRegister(grpc::CallbackServerContext* context,
                                                     const inference::CudaSharedMemoryRegisterRequest* request,
                                                     inference::CudaSharedMemoryRegisterResponse* response) override;
  grpc::ServerUnaryReactor* CudaSharedMemoryUnregister(grpc::CallbackServerContext* context,
                                                       const inference::CudaSharedMemoryUnregisterRequest* request,
                                                       inference::CudaSharedMemoryUnregisterResponse* response) override;

  // --model-control-mode explicit: serves load and unload. Before serving.
  void enable_repository_control(model_registry& models, std::filesystem::path repository) {
    control_models_ = &models;
    control_repository_ = std::move(repository);
  }

 private:
  // nullopt when the call may go on; else finishes it UNAUTHENTICATED.
  grpc::ServerUnaryReactor* refuse(grpc::CallbackServerContext* context, auth::endpoint_group group) const;

  const model_registry& models_;
  model_registry* control_models_{nullptr};  // null: model control mode none
  std::filesystem::path control_repository_;
  const auth::api_keys& keys_;
  infer_environment environment_;
  infer_message_allocator infer_allocator_;
  std::atomic<bool> ready_{false};
};

}  // namespace surge::grpc_frontend
