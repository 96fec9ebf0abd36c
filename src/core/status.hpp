#pragma once

#include <chrono>
#include <optional>
#include <string>

namespace surge {

// Why a request did not succeed. Frontends map these to protocol statuses
// (docs/error-policy.md has the table).
enum class error_code {
  invalid_argument,   // the request is malformed or does not match the model: 400
  not_found,          // unknown model or version: 404
  unavailable,        // the queue is full: 429 with Retry-After
  not_ready,          // the model or server is not ready (loading, draining): 503
  deadline_exceeded,  // the request's timeout passed before it ran: 504
  cancelled,          // the client went away; nobody reads the answer
  internal,           // the backend or the server failed: 500
};

struct error {
  error_code code;
  std::string message;
  // Set with unavailable: how long the client should wait before retrying.
  std::optional<std::chrono::seconds> retry_after{};
};

inline error make_error(error_code code, std::string message) { return error{code, std::move(message), {}}; }

}  // namespace surge
