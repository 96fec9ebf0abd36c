#pragma once

#include <grpcpp/support/status.h>

#include "core/status.hpp"

namespace surge::grpc_frontend {

// docs/error-policy.md has this table beside the HTTP one.
inline grpc::StatusCode status_code_for(error_code code) {
  switch (code) {
    case error_code::invalid_argument:
      return grpc::StatusCode::INVALID_ARGUMENT;
    case error_code::not_found:
      return grpc::StatusCode::NOT_FOUND;
    case error_code::unavailable:  // the queue is full: retry later
    case error_code::not_ready:    // loading failed, or the server is draining
      return grpc::StatusCode::UNAVAILABLE;
    case error_code::deadline_exceeded:
      return grpc::StatusCode::DEADLINE_EXCEEDED;
    case error_code::cancelled:
      return grpc::StatusCode::CANCELLED;
    case error_code::internal:
      break;
  }
  return grpc::StatusCode::INTERNAL;
}

inline grpc::Status to_status(const error& failure) { return {status_code_for(failure.code), failure.message}; }

}  // namespace surge::grpc_frontend
