#include "bench/load_target.hpp"

#include <array>

namespace surge::bench {

std::string status_name(std::string_view protocol, unsigned status) {
  // grpc::StatusCode's names, by number (the gRPC protocol fixes them).
  static constexpr std::array<std::string_view, 17> grpc_codes{
      "OK",           "CANCELLED",           "UNKNOWN",       "INVALID_ARGUMENT", "DEADLINE_EXCEEDED",
      "NOT_FOUND",    "ALREADY_EXISTS",      "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION",
      "ABORTED",      "OUT_OF_RANGE",        "UNIMPLEMENTED", "INTERNAL",         "UNAVAILABLE",
      "DATA_LOSS",    "UNAUTHENTICATED"};
  if (protocol == "kserve-grpc") {
    return status < grpc_codes.size() ? std::string(grpc_codes[status]) : "code " + std::to_string(status);
  }
  return std::to_string(status);
}

std::string_view failure_name(failure_kind kind) {
  switch (kind) {
    case failure_kind::none:
      return "none";
    case failure_kind::connect_failed:
      return "connect_failed";
    case failure_kind::timeout:
      return "timeout";
    case failure_kind::connection_closed:
      return "connection_closed";
    case failure_kind::protocol_error:
      return "protocol_error";
    case failure_kind::invalid_response:
      return "invalid_response";
    case failure_kind::stream_error:
      return "stream_error";
    case failure_kind::client_saturated:
      return "client_saturated";
    case failure_kind::other:
      return "other";
  }
  return "other";
}

}  // namespace surge::bench
