#pragma once

#include <cstdint>
#include <string>

namespace surge {

// Where a tensor lives in a registered shared-memory region (Triton's system
// shared memory extension): the request names the region, an offset into it
// and a byte size, instead of carrying the bytes.
struct shared_memory_ref {
  std::string region;
  std::uint64_t offset{0};
  std::uint64_t byte_size{0};
};

}  // namespace surge
