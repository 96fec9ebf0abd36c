#include "generation/backend_engine.hpp"

namespace surge {

std::variant<std::shared_ptr<backend_generation_model>, error> backend_generation_model::create(
    std::shared_ptr<backend_model> model) {
  const auto& library = *model->library();
  if (!library.generative()) {
    return make_error(error_code::invalid_argument,
                      "generation: backend '" + library.name() +
                          "' does not export the generative functions of the backend API");
  }
  auto info = model->generation_info_of();
  if (auto* failure = std::get_if<error>(&info)) return *failure;
  const auto& raw = std::get<generation_info>(info);
  // surge_generation_info_set checks each value's range; these are the keys
  // a backend must set.
  if (raw.max_sequences == 0 || raw.max_context < 2 || raw.vocab_size == 0) {
    return make_error(error_code::internal, "backend '" + library.name() + "' reports unusable generation limits (" +
                                                std::to_string(raw.max_sequences) + " slots, context " +
                                                std::to_string(raw.max_context) + ", vocabulary " +
                                                std::to_string(raw.vocab_size) + ")");
  }
  generation_limits limits;
  limits.max_sequences = static_cast<std::uint32_t>(raw.max_sequences);
  limits.max_context = static_cast<std::uint32_t>(raw.max_context);
  limits.vocab_size = static_cast<std::uint32_t>(raw.vocab_size);
  if (raw.eos_token >= 0) limits.eos_token = static_cast<std::int32_t>(raw.eos_token);
  return std::shared_ptr<backend_generation_model>(new backend_generation_model(std::move(model), limits));
}

}  // namespace surge
