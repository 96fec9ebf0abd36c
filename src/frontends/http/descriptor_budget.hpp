#pragma once

#include <cstddef>

namespace surge::http {

// Raises the soft RLIMIT_NOFILE to the hard limit (every connection costs a
// descriptor, and the soft default is often 1024). Returns the soft limit in
// force afterwards.
std::size_t raise_descriptor_limit();

// How the process's descriptors are shared. The HTTP and metrics listeners
// are bounded by their connection limits; the rest is kept for what has no
// limit of its own: gRPC's connections, model files, worker pipes. gRPC
// (1.51) stops accepting for good after one accept() fails with EMFILE, so
// the HTTP limits must never let HTTP connections eat that reserve.
struct descriptor_plan {
  std::size_t http_connections{0};
  std::size_t metrics_connections{0};
  std::size_t reserved{0};  // descriptors the HTTP limits leave to the rest
  bool clamped{false};      // a wanted limit did not fit and was lowered
};
descriptor_plan plan_descriptors(std::size_t descriptor_limit, std::size_t http_wanted, std::size_t metrics_wanted);

}  // namespace surge::http
