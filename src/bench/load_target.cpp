#include "bench/load_target.hpp"

namespace surge::bench {

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
