#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <variant>
#include <vector>

#include "backend_loader/backend_model.hpp"
#include "core/inference_request.hpp"
#include "core/status.hpp"
#include "core/batch_outcome.hpp"

struct surge_request;

namespace surge {

namespace abi {
struct execution_context;
}

// One execution instance. Move-only; the backend calls each instance from one
// thread at a time, so execute() must not be called concurrently on one handle.
class backend_instance_handle {
 public:
  static std::variant<backend_instance_handle, error> create(std::shared_ptr<backend_model> model,
                                                             std::uint32_t index);
  ~backend_instance_handle();
  backend_instance_handle(backend_instance_handle&& other) noexcept;
  backend_instance_handle& operator=(backend_instance_handle&& other) noexcept;
  backend_instance_handle(const backend_instance_handle&) = delete;
  backend_instance_handle& operator=(const backend_instance_handle&) = delete;

  // Runs one batch: the backend sees each request with its own inputs and
  // answers each one. On return `outcome` holds one answer per request of
  // `batch`, in order. A decoupled model's requests are taken over (their
  // entries in `batch` become null, their answers std::monostate): the
  // backend answers their sinks itself, perhaps after this returns.
  // `outcome` is reused from batch to batch to keep its capacity.
  void execute(std::vector<request_ptr>& batch, batch_outcome& outcome);

  // Generative models only; see backend.h for what each call does. `logits`
  // holds vocab_size floats per sequence.
  std::optional<error> prefill(std::uint32_t slot, std::span<const std::int32_t> tokens, std::span<float> logits);
  std::optional<error> step(std::span<const std::uint32_t> slots, std::span<const std::int32_t> tokens,
                            std::span<const std::uint32_t> positions, std::span<float> logits);
  void release(std::uint32_t slot);

  std::uint32_t index() const { return index_; }
  const std::shared_ptr<backend_model>& model() const { return model_; }

 private:
  // What a handle keeps between batches; one allocation per handle, so the
  // handle moves cheaply and request slots keep their addresses.
  struct state;

  backend_instance_handle(std::shared_ptr<backend_model> model, std::uint32_t index, surge_instance* handle);
  void reset() noexcept;
  void execute_decoupled(std::vector<request_ptr>& batch, batch_outcome& outcome);

  std::shared_ptr<backend_model> model_;
  std::uint32_t index_{0};
  surge_instance* handle_{nullptr};
  std::unique_ptr<state> state_;
};

}  // namespace surge
