#include "frontends/grpc/infer_environment.hpp"

#include "generation/text_tensors.hpp"

namespace surge::grpc_frontend {

request_ptr make_inference_request(decoded_infer_request decoded, const model_version& model,
                                   const grpc::CallbackServerContext& context, std::shared_ptr<response_sink> sink) {
  auto request = std::make_unique<inference_request>();
  request->id = std::move(decoded.id);
  request->model = model.name();
  request->version = model.version();
  request->inputs = std::move(decoded.inputs);
  request->requested_outputs = std::move(decoded.outputs);
  request->classifications = std::move(decoded.classifications);
  request->priority = decoded.priority.value_or(0);
  request->timeout = decoded.timeout;
  request->parameters = std::move(decoded.parameters);
  if (decoded.sampling && model.generative()) {
    // With sampling parameters the request takes the generation path; a
    // missing or malformed prompt is left for the model to refuse.
    if (auto prompt = prompt_from_tensor(*request); std::holds_alternative<std::string>(prompt)) {
      request->generation = generation_options{std::get<std::string>(std::move(prompt)), std::move(*decoded.sampling)};
    }
  }
  const auto& metadata = context.client_metadata();
  if (const auto it = metadata.find("traceparent"); it != metadata.end()) {
    request->traceparent.assign(it->second.data(), it->second.size());
  }
  request->sink = std::move(sink);
  return request;
}

std::optional<error> attach_shared_memory(decoded_infer_request& decoded, const infer_environment& environment) {
  if (decoded.shared_memory_inputs.empty() && decoded.shared_memory_outputs.empty()) return std::nullopt;
  if (auto failure = environment.shared_memory.read_inputs(decoded.inputs, decoded.shared_memory_inputs)) return failure;
  return environment.shared_memory.check_outputs(decoded.shared_memory_outputs);
}

bool is_decoupled(const model_version& model) { return model.config().model_transaction_policy().decoupled(); }

}  // namespace surge::grpc_frontend
