#include "features/features_loader.hpp"

#include "config/model_config.hpp"

namespace surge::features {

namespace {

// The scoring model's input must take the vector: FP32, [len(vector)].
std::optional<error> check_scoring_model(const config::ModelConfig& features, const config::ModelConfig& scoring) {
  const auto& f = features.features();
  const config::ModelInput* input = nullptr;
  for (const auto& candidate : scoring.input()) {
    if (candidate.name() == f.model_input()) input = &candidate;
  }
  const auto invalid = [&](std::string message) {
    return make_error(error_code::invalid_argument, "features.model_input: " + message);
  };
  if (input == nullptr) return invalid("model '" + f.model() + "' has no input '" + f.model_input() + "'");
  if (scoring.input_size() != 1) return invalid("model '" + f.model() + "' must take the vector as its only input");
  const auto width = f.vector_size();
  if (input->data_type() != config::TYPE_FP32 || input->dims_size() != 1 ||
      (input->dims(0) != width && input->dims(0) != -1)) {
    return invalid("input '" + f.model_input() + "' of model '" + f.model() + "' must be TYPE_FP32 with dims [ " +
                   std::to_string(width) + " ] (the vector's length)");
  }
  for (const auto& output : features.output()) {
    if (output.name() == "FEATURES") continue;
    bool found = false;
    for (const auto& candidate : scoring.output()) {
      if (candidate.name() == output.name()) {
        found = true;
        if (candidate.data_type() != output.data_type()) {
          return make_error(error_code::invalid_argument, "output: '" + output.name() + "' is " +
                                                              config::DataType_Name(candidate.data_type()) +
                                                              " in model '" + f.model() + "'");
        }
      }
    }
    if (!found) {
      return make_error(error_code::invalid_argument,
                        "output: model '" + f.model() + "' has no output '" + output.name() + "'");
    }
  }
  return std::nullopt;
}

}  // namespace

std::variant<std::shared_ptr<model_version>, error> features_loader::load(const config::ModelConfig& config,
                                                                          const load_context& context) {
  if (!redis_) {
    return make_error(error_code::invalid_argument,
                      "features.stream: a features model reads its events from Redis; start the server with --redis");
  }
  const auto scoring = context.loaded->find_version(config.features().model(), std::nullopt);
  if (!scoring) {
    return make_error(error_code::not_found, "features.model: model '" + config.features().model() + "' is not served");
  }
  if (auto failure = check_scoring_model(config, scoring->config())) return std::move(*failure);

  auto state = std::make_shared<feature_state>(make_feature_spec(config), context.metrics);
  state->scoring_batched = scoring->config().max_batch_size() > 0;
  state->entities_gauge = context.metrics.add_gauge_collector(
      "surge_feature_entities", "Entities whose windows a features model keeps",
      [weak = std::weak_ptr<feature_state>(state)](metrics::sample_list& samples) {
        if (auto s = weak.lock()) {
          samples.push_back({{{"model", s->spec.model}}, static_cast<double>(s->store.entities())});
        }
      });
  state->follower = stream_follower::create(context.io, *redis_, state->spec, state->store, state->counters);
  state->attributes = std::make_unique<static_attributes>(context.io, *redis_, state->spec);
  state->follower->start();
  state->attributes->start();
  if (auto failure = state->follower->wait_caught_up(catch_up_timeout_)) {
    state->follower->stop();
    state->attributes->stop();
    return std::move(*failure);
  }
  auto version = std::make_shared<model_version>(config, context.version, context.metrics);
  version->start(std::make_shared<features_scheduler>(context.io, std::move(state), served_), nullptr);
  return version;
}

}  // namespace surge::features
