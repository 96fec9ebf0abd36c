#include "backend_loader/abi_handles.hpp"

#include <algorithm>

namespace surge::abi {

surge_error* out_of_memory_error() noexcept {
  static surge_error error{SURGE_ERROR_INTERNAL, "out of memory"};
  return &error;
}

surge_error* new_error(surge_error_code code, std::string_view message) noexcept {
  try {
    return new surge_error{code, std::string(message)};
  } catch (...) {
    return out_of_memory_error();
  }
}

void delete_error(surge_error* error) noexcept {
  if (error != out_of_memory_error()) delete error;
}

error_code error_code_from(surge_error_code code) {
  switch (code) {
    case SURGE_ERROR_INVALID_ARGUMENT: return error_code::invalid_argument;
    case SURGE_ERROR_UNAVAILABLE: return error_code::not_ready;
    case SURGE_ERROR_INTERNAL:
    case SURGE_ERROR_UNSUPPORTED:
    default: return error_code::internal;
  }
}

error take_error(surge_error* raw) {
  error result = make_error(error_code_from(raw->code), raw->message);
  delete_error(raw);
  return result;
}

bool close_with_error(surge_request& request, error failure) {
  if (request.closed.exchange(true, std::memory_order_acq_rel)) return false;
  if (!request.context->decoupled) {
    *request.answer = std::move(failure);
    return true;
  }
  request.request->sink->finish(std::move(failure));
  forget_open(request);
  return true;
}

void forget_open(surge_request& request) {
  // Held until the lock is released: the request may hold the last
  // reference to the context whose mutex this is.
  std::shared_ptr<surge_request> self;
  std::shared_ptr<execution_context> context = request.shared_context;
  std::lock_guard lock(context->open_mutex);
  auto& open = context->open;
  const auto it = std::find_if(open.begin(), open.end(), [&](const auto& r) { return r.get() == &request; });
  if (it != open.end()) {
    self = std::move(*it);
    *it = std::move(open.back());
    open.pop_back();
  }
}

}  // namespace surge::abi
