#pragma once

#include <cstdint>
#include <string>
#include <variant>

#include "core/status.hpp"

namespace surge::pool {

// A TCP port on `host` that nothing listens on right now: the kernel's pick
// for a socket bound to port 0, released again. Another process may take it
// before the caller does; callers that start a server on it retry on failure.
std::variant<std::uint16_t, error> pick_free_port(const std::string& host = "127.0.0.1");

}  // namespace surge::pool
