#pragma once

// Triton's system shared memory extension: a client creates a POSIX
// shared-memory object (shm_open), registers a region of it under a name,
// then names the region in infer requests instead of sending tensor bytes;
// outputs can be written into a region too. One registry per server, shared
// by HTTP and gRPC. A region stays mapped while a request that read it is
// in flight, even if it is unregistered meanwhile.

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "core/shared_memory_ref.hpp"
#include "core/status.hpp"
#include "core/tensor.hpp"

namespace surge {

struct shared_memory_region_status {
  std::string name;
  std::string key;
  std::uint64_t offset{0};
  std::uint64_t byte_size{0};
};

class system_shared_memory {
 public:
  // Regions one server keeps at once; more are refused.
  static constexpr std::size_t max_regions = 4096;

  system_shared_memory() = default;
  system_shared_memory(const system_shared_memory&) = delete;
  system_shared_memory& operator=(const system_shared_memory&) = delete;

  // Maps bytes [offset, offset + byte_size) of the shared-memory object `key`
  // under `name`. invalid_argument when the name is taken, the object does
  // not exist or is smaller than offset + byte_size.
  std::optional<error> register_region(const std::string& name, const std::string& key, std::uint64_t offset,
                                       std::uint64_t byte_size);
  // Unmaps the region once no request uses it; an unknown name is not an error.
  void unregister(const std::string& name);
  void unregister_all();
  // Every region, or the one named (invalid_argument when it is unknown).
  std::variant<std::vector<shared_memory_region_status>, error> status(const std::optional<std::string>& name) const;

  // Points each input listed in `refs` (index into `inputs`, region) at its
  // bytes in the region; the tensor's owner keeps the mapping. The region is
  // checked on every use: offset + byte_size within the registered size, and
  // byte_size exactly what the input's shape and type need.
  std::optional<error> read_inputs(std::vector<tensor>& inputs,
                                   const std::vector<std::pair<std::size_t, shared_memory_ref>>& refs) const;
  // Before the request runs: every region in `wanted` is registered and the
  // offset and byte size fall within it.
  std::optional<error> check_outputs(const std::vector<std::pair<std::string, shared_memory_ref>>& wanted) const;
  // Copies each output named in `wanted` into its region; invalid_argument
  // naming the output and region when the region is smaller than the output.
  std::optional<error> write_outputs(const std::vector<tensor>& outputs,
                                     const std::vector<std::pair<std::string, shared_memory_ref>>& wanted) const;

 private:
  struct mapping;
  struct region {
    std::string key;
    std::uint64_t offset{0};
    std::uint64_t byte_size{0};
    std::shared_ptr<mapping> map;
  };
  // The bytes of `ref` within its region, or why not.
  std::variant<std::pair<std::span<std::byte>, std::shared_ptr<mapping>>, error> locate(const shared_memory_ref& ref,
                                                                                        const std::string& label) const;

  mutable std::mutex mutex_;
  std::map<std::string, region> regions_;  // guarded by mutex_
};

}  // namespace surge
