#include "frontends/grpc/model_messages.hpp"

#include <string>

#include "config/model_config.hpp"

namespace surge::grpc_frontend {

namespace {

template <typename Spec>
void fill_tensor(const Spec& spec, bool batching, inference::ModelMetadataResponse::TensorMetadata& tensor) {
  tensor.set_name(spec.name());
  tensor.set_datatype(std::string(kserve_name(to_data_type(spec.data_type()))));
  if (batching) tensor.add_shape(-1);
  for (const auto dim : spec.dims()) tensor.add_shape(dim);
}

void fill_duration(const duration_statistic& from, inference::StatisticDuration& to) {
  to.set_count(from.count.load(std::memory_order_relaxed));
  to.set_ns(from.ns.load(std::memory_order_relaxed));
}

}  // namespace

void fill_model_metadata(const registered_model& state, inference::ModelMetadataResponse& response) {
  const auto& config = *state.config;
  response.set_name(state.name);
  for (const auto& [version, model] : state.versions) response.add_versions(std::to_string(version));
  response.set_platform(config.backend());
  const bool batching = config.max_batch_size() > 0;
  for (const auto& input : config.input()) fill_tensor(input, batching, *response.add_inputs());
  for (const auto& output : config.output()) fill_tensor(output, batching, *response.add_outputs());
}

void fill_model_statistics(const model_version& model, inference::ModelStatistics& statistics) {
  const auto& s = model.statistics();
  statistics.set_name(model.name());
  statistics.set_version(std::to_string(model.version()));
  statistics.set_last_inference(s.last_inference_ms.load(std::memory_order_relaxed));
  statistics.set_inference_count(s.inference_count.load(std::memory_order_relaxed));
  statistics.set_execution_count(s.execution_count.load(std::memory_order_relaxed));
  auto& inference = *statistics.mutable_inference_stats();
  fill_duration(s.success, *inference.mutable_success());
  fill_duration(s.fail, *inference.mutable_fail());
  fill_duration(s.queue, *inference.mutable_queue());
  fill_duration(s.compute_input, *inference.mutable_compute_input());
  fill_duration(s.compute_infer, *inference.mutable_compute_infer());
  fill_duration(s.compute_output, *inference.mutable_compute_output());
  // surge has no response cache: both stay zero, present as Triton sends them.
  inference.mutable_cache_hit();
  inference.mutable_cache_miss();
  for (std::size_t rows = 1; rows <= s.max_rows; ++rows) {
    const auto& stat = s.batch_compute_infer[rows];
    if (stat.count.load(std::memory_order_relaxed) == 0) continue;
    auto& batch = *statistics.add_batch_stats();
    batch.set_batch_size(rows);
    fill_duration(stat, *batch.mutable_compute_infer());
  }
}

void fill_repository_index(const registry_snapshot& models, bool ready_only,
                           inference::RepositoryIndexResponse& response) {
  for (const auto& [name, state] : models.models) {
    const bool ready = state->error.empty();
    if (ready_only && !ready) continue;
    auto& entry = *response.add_models();
    entry.set_name(name);
    if (!state->versions.empty()) entry.set_version(std::to_string(state->versions.rbegin()->first));
    entry.set_state(ready ? "READY" : "UNAVAILABLE");
    if (!ready) {
      entry.set_reason(state->error);
    } else if (!state->reload_error.empty()) {
      entry.set_reason("serving the versions loaded before; the last load failed: " + state->reload_error);
    }
  }
}

}  // namespace surge::grpc_frontend
