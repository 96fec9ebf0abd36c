#pragma once

#include <memory>
#include <variant>

#include "backend_loader/backend_instance.hpp"
#include "generation/generation_engine.hpp"

namespace surge {

// generation_model and generation_engine over a backend plugin's generative functions (backend.h).
class backend_generation_model final : public generation_model {
 public:
  static std::variant<std::shared_ptr<backend_generation_model>, error> create(std::shared_ptr<backend_model> model);

  const generation_limits& limits() const override { return limits_; }
  std::variant<std::vector<std::int32_t>, error> tokenize(std::string_view text) const override {
    return model_->tokenize(text);
  }
  std::variant<std::string, error> detokenize(std::span<const std::int32_t> tokens) const override {
    return model_->detokenize(tokens);
  }

 private:
  backend_generation_model(std::shared_ptr<backend_model> model, generation_limits limits)
      : model_(std::move(model)), limits_(limits) {}
  std::shared_ptr<backend_model> model_;
  generation_limits limits_;
};

class backend_generation_engine final : public generation_engine {
 public:
  explicit backend_generation_engine(backend_instance_handle handle) : handle_(std::move(handle)) {}

  std::optional<error> prefill(std::uint32_t slot, std::span<const std::int32_t> tokens,
                               std::span<float> logits) override {
    return handle_.prefill(slot, tokens, logits);
  }
  std::optional<error> step(std::span<const std::uint32_t> slots, std::span<const std::int32_t> tokens,
                            std::span<const std::uint32_t> positions, std::span<float> logits) override {
    return handle_.step(slots, tokens, positions, logits);
  }
  void release(std::uint32_t slot) override { handle_.release(slot); }

 private:
  backend_instance_handle handle_;
};

}  // namespace surge
