#pragma once

// The read-only RPCs' answers (metadata, statistics, repository index), built
// from what the router knows. The HTTP frontend answers the same questions in
// JSON from the same sources.

#include "router/model_registry.hpp"
#include "wire/grpc/grpc_service.pb.h"

namespace surge::grpc_frontend {

// Versions, platform (the backend), and tensors with -1 for the batch
// dimension of a batching model.
void fill_model_metadata(const registered_model& state, inference::ModelMetadataResponse& response);

// Triton's statistics extension for one model version.
void fill_model_statistics(const model_version& model, inference::ModelStatistics& statistics);

// Every model of the repository with its highest version and READY or
// UNAVAILABLE (with the reason); `ready_only` leaves out the unavailable.
void fill_repository_index(const registry_snapshot& models, bool ready_only,
                           inference::RepositoryIndexResponse& response);

}  // namespace surge::grpc_frontend
