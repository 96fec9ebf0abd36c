#include "backend_loader/backend_instance.hpp"

#include <utility>

#include "backend_loader/abi_handles.hpp"

namespace surge {

struct backend_instance_handle::state {
  std::shared_ptr<abi::execution_context> context;
  // Not decoupled: one request object per position in a batch, reused, so a
  // batch costs no allocation of its own once the handle has seen its size.
  std::vector<std::unique_ptr<surge_request>> slots;
  std::vector<surge_request*> pointers;
  // Decoupled: the batch being executed, held until execute returns.
  std::vector<std::shared_ptr<surge_request>> taken;
};

namespace {

error not_generative(const backend_library& library) {
  return make_error(error_code::internal, "backend '" + library.name() + "' does not implement the generative API");
}

}  // namespace

std::variant<backend_instance_handle, error> backend_instance_handle::create(std::shared_ptr<backend_model> model,
                                                                             std::uint32_t index) {
  const auto& library = *model->library();
  surge_instance* handle = nullptr;
  const std::string label = "backend '" + library.name() + "' cannot create instance " + std::to_string(index) +
                            " of model '" + model->spec().model_name + "'";
  if (surge_error* failure = library.fn().instance_create(model->handle(), index, &handle)) {
    error e = abi::take_error(failure);
    e.message = label + ": " + e.message;
    return e;
  }
  if (handle == nullptr) return make_error(error_code::internal, label + ": the backend returned no instance");
  return backend_instance_handle(std::move(model), index, handle);
}

backend_instance_handle::backend_instance_handle(std::shared_ptr<backend_model> model, std::uint32_t index,
                                                 surge_instance* handle)
    : model_(std::move(model)), index_(index), handle_(handle), state_(std::make_unique<state>()) {
  state_->context = std::make_shared<abi::execution_context>();
  state_->context->spec = &model_->spec();
  state_->context->backend_name = &model_->library()->name();
  state_->context->decoupled = model_->decoupled();
}

backend_instance_handle::~backend_instance_handle() { reset(); }

backend_instance_handle::backend_instance_handle(backend_instance_handle&& other) noexcept
    : model_(std::move(other.model_)),
      index_(other.index_),
      handle_(std::exchange(other.handle_, nullptr)),
      state_(std::move(other.state_)) {}

backend_instance_handle& backend_instance_handle::operator=(backend_instance_handle&& other) noexcept {
  if (this != &other) {
    reset();
    model_ = std::move(other.model_);
    index_ = other.index_;
    handle_ = std::exchange(other.handle_, nullptr);
    state_ = std::move(other.state_);
  }
  return *this;
}

void backend_instance_handle::reset() noexcept {
  if (handle_ != nullptr) model_->library()->fn().instance_delete(handle_);
  handle_ = nullptr;
  if (state_ && state_->context->decoupled) {
    // The backend had to answer every request of this instance by now
    // (backend.h, surge_instance_delete); whatever it left open is answered
    // here, so no client waits forever.
    std::vector<std::shared_ptr<surge_request>> left;
    {
      std::lock_guard lock(state_->context->open_mutex);
      left.swap(state_->context->open);
    }
    for (auto& request : left) {
      abi::close_with_error(*request, make_error(error_code::internal,
                                                 "backend '" + *state_->context->backend_name +
                                                     "' deleted its instance before answering request '" +
                                                     request->request->id + "' of model '" +
                                                     state_->context->spec->model_name + "'"));
    }
  }
  state_.reset();
  model_.reset();
}

void backend_instance_handle::execute(std::vector<request_ptr>& batch, batch_outcome& outcome) {
  outcome.failed = false;
  outcome.answers.clear();
  outcome.answers.resize(batch.size());
  if (handle_ == nullptr) {
    for (auto& answer : outcome.answers) {
      answer = make_error(error_code::internal, "execute on a moved-from backend instance");
    }
    outcome.failed = true;
    return;
  }
  if (state_->context->decoupled) {
    execute_decoupled(batch, outcome);
    return;
  }

  auto& s = *state_;
  while (s.slots.size() < batch.size()) s.slots.push_back(std::make_unique<surge_request>());
  s.pointers.clear();
  for (std::size_t i = 0; i < batch.size(); ++i) {
    auto& slot = *s.slots[i];
    slot.request = batch[i].get();
    slot.context = s.context.get();
    slot.closed.store(false, std::memory_order_relaxed);
    slot.answer = &outcome.answers[i];
    slot.response_in_use = false;
    slot.response.outputs.clear();
    s.pointers.push_back(&slot);
  }

  const auto& library = *model_->library();
  surge_error* failure =
      library.fn().instance_execute(handle_, s.pointers.data(), static_cast<std::uint32_t>(s.pointers.size()));
  if (failure != nullptr) {
    const error e = abi::take_error(failure);
    outcome.failed = true;
    for (auto* slot : s.pointers) abi::close_with_error(*slot, e);
  }
  for (auto* slot : s.pointers) {
    if (slot->closed.load(std::memory_order_relaxed)) continue;
    abi::close_with_error(*slot, make_error(error_code::internal, "backend '" + library.name() +
                                                                      "' returned without answering request '" +
                                                                      slot->request->id + "' of model '" +
                                                                      s.context->spec->model_name + "'"));
  }
}

void backend_instance_handle::execute_decoupled(std::vector<request_ptr>& batch, batch_outcome& outcome) {
  auto& s = *state_;
  s.taken.clear();
  s.pointers.clear();
  for (auto& entry : batch) {
    auto request = std::make_shared<surge_request>();
    request->owned = std::move(entry);
    request->request = request->owned.get();
    request->context = s.context.get();
    request->shared_context = s.context;
    {
      std::lock_guard lock(s.context->open_mutex);
      s.context->open.push_back(request);
    }
    s.pointers.push_back(request.get());
    s.taken.push_back(std::move(request));
  }
  const auto& library = *model_->library();
  surge_error* failure =
      library.fn().instance_execute(handle_, s.pointers.data(), static_cast<std::uint32_t>(s.pointers.size()));
  if (failure != nullptr) {
    const error e = abi::take_error(failure);
    outcome.failed = true;
    for (auto& request : s.taken) abi::close_with_error(*request, e);
  }
  // The rest stay open until the backend sends their final responses.
  s.taken.clear();
}

std::optional<error> backend_instance_handle::prefill(std::uint32_t slot, std::span<const std::int32_t> tokens,
                                                     std::span<float> logits) {
  const auto& library = *model_->library();
  if (!library.generative()) return not_generative(library);
  if (surge_error* failure = library.fn().sequence_prefill(handle_, slot, tokens.data(),
                                                            static_cast<std::uint32_t>(tokens.size()), logits.data())) {
    return abi::take_error(failure);
  }
  return std::nullopt;
}

std::optional<error> backend_instance_handle::step(std::span<const std::uint32_t> slots,
                                                  std::span<const std::int32_t> tokens,
                                                  std::span<const std::uint32_t> positions, std::span<float> logits) {
  const auto& library = *model_->library();
  if (!library.generative()) return not_generative(library);
  if (surge_error* failure = library.fn().sequence_step(handle_, slots.data(), tokens.data(), positions.data(),
                                                         static_cast<std::uint32_t>(slots.size()), logits.data())) {
    return abi::take_error(failure);
  }
  return std::nullopt;
}

void backend_instance_handle::release(std::uint32_t slot) {
  const auto& library = *model_->library();
  if (library.generative()) library.fn().sequence_release(handle_, slot);
}

}  // namespace surge
