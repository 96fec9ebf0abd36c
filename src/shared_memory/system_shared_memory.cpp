#include "shared_memory/system_shared_memory.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "core/client_text.hpp"
#include "wire/tensor_checks.hpp"

namespace surge {

struct system_shared_memory::mapping {
  void* base{nullptr};
  std::size_t length{0};
  ~mapping() {
    if (base != nullptr && base != MAP_FAILED) munmap(base, length);
  }
};

namespace {

error invalid(std::string message) { return make_error(error_code::invalid_argument, std::move(message)); }

std::string region_label(const std::string& name) { return "shared memory region '" + client_text(name) + "'"; }

}  // namespace

std::optional<error> system_shared_memory::register_region(const std::string& name, const std::string& key,
                                                           std::uint64_t offset, std::uint64_t byte_size) {
  if (name.empty()) return invalid("a shared memory region needs a name");
  if (key.empty()) return invalid(region_label(name) + ": the key (the shared memory object's name) is empty");
  if (byte_size == 0) return invalid(region_label(name) + ": byte_size must be positive");
  if (offset > UINT64_MAX - byte_size) return invalid(region_label(name) + ": offset + byte_size overflows");
  {
    std::lock_guard lock(mutex_);
    if (regions_.contains(name)) {
      return invalid(region_label(name) + " is already registered; unregister it first");
    }
    if (regions_.size() >= max_regions) {
      return invalid("already " + std::to_string(max_regions) + " shared memory regions are registered");
    }
  }
  const int fd = shm_open(key.c_str(), O_RDWR, 0);
  if (fd < 0) {
    return invalid(region_label(name) + ": cannot open shared memory key '" + client_text(key) +
                   "': " + std::strerror(errno));
  }
  struct stat info {};
  if (fstat(fd, &info) != 0) {
    const int e = errno;
    close(fd);
    return invalid(region_label(name) + ": cannot read the size of key '" + client_text(key) + "': " + std::strerror(e));
  }
  const auto object_size = static_cast<std::uint64_t>(info.st_size);
  if (offset + byte_size > object_size) {
    close(fd);
    return invalid(region_label(name) + ": offset " + std::to_string(offset) + " + byte_size " +
                   std::to_string(byte_size) + " is beyond the " + std::to_string(object_size) + " bytes of key '" +
                   client_text(key) + "'");
  }
  auto map = std::make_shared<mapping>();
  map->length = static_cast<std::size_t>(offset + byte_size);
  map->base = mmap(nullptr, map->length, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  const int e = errno;
  close(fd);
  if (map->base == MAP_FAILED) {
    return invalid(region_label(name) + ": cannot map key '" + client_text(key) + "': " + std::strerror(e));
  }
  std::lock_guard lock(mutex_);
  if (!regions_.emplace(name, region{key, offset, byte_size, std::move(map)}).second) {
    return invalid(region_label(name) + " is already registered; unregister it first");
  }
  return std::nullopt;
}

void system_shared_memory::unregister(const std::string& name) {
  std::lock_guard lock(mutex_);
  regions_.erase(name);
}

void system_shared_memory::unregister_all() {
  std::lock_guard lock(mutex_);
  regions_.clear();
}

std::variant<std::vector<shared_memory_region_status>, error> system_shared_memory::status(
    const std::optional<std::string>& name) const {
  std::lock_guard lock(mutex_);
  std::vector<shared_memory_region_status> out;
  if (name) {
    const auto it = regions_.find(*name);
    if (it == regions_.end()) return invalid("unable to find " + region_label(*name) + ": it is not registered");
    out.push_back({it->first, it->second.key, it->second.offset, it->second.byte_size});
    return out;
  }
  for (const auto& [n, r] : regions_) out.push_back({n, r.key, r.offset, r.byte_size});
  return out;
}

std::variant<std::pair<std::span<std::byte>, std::shared_ptr<system_shared_memory::mapping>>, error>
system_shared_memory::locate(const shared_memory_ref& ref, const std::string& label) const {
  std::lock_guard lock(mutex_);
  const auto it = regions_.find(ref.region);
  if (it == regions_.end()) {
    return invalid(label + ": " + region_label(ref.region) + " is not registered");
  }
  const auto& r = it->second;
  if (ref.offset > r.byte_size || ref.byte_size > r.byte_size - ref.offset) {
    return invalid(label + ": shared_memory_offset " + std::to_string(ref.offset) + " + shared_memory_byte_size " +
                   std::to_string(ref.byte_size) + " is beyond the " + std::to_string(r.byte_size) + " bytes of " +
                   region_label(ref.region));
  }
  auto* start = static_cast<std::byte*>(r.map->base) + r.offset + ref.offset;
  return std::pair{std::span<std::byte>(start, static_cast<std::size_t>(ref.byte_size)), r.map};
}

std::optional<error> system_shared_memory::read_inputs(
    std::vector<tensor>& inputs, const std::vector<std::pair<std::size_t, shared_memory_ref>>& refs) const {
  for (const auto& [index, ref] : refs) {
    if (index >= inputs.size()) continue;
    auto& input = inputs[index];
    const auto label = wire::quoted_label("input", input.name);
    auto located = locate(ref, label);
    if (auto* failure = std::get_if<error>(&located)) return std::move(*failure);
    auto& [bytes, map] = std::get<0>(located);
    auto counted = wire::checked_element_count(label, input.shape, input.type);
    if (auto* failure = std::get_if<error>(&counted)) return std::move(*failure);
    const auto elements = std::get<std::size_t>(counted);
    if (input.type == data_type::bytes) {
      const auto problem = wire::bytes_elements_problem(bytes, elements, "shared_memory_byte_size", "BYTES data in shared memory");
      if (!problem.empty()) return invalid(label + ": " + problem);
    } else {
      const auto expected = elements * element_size(input.type);
      if (bytes.size() != expected) {
        return invalid(label + ": shared_memory_byte_size is " + std::to_string(bytes.size()) + " but shape " +
                       wire::shape_text(input.shape) + " of " + std::string(kserve_name(input.type)) + " needs " +
                       std::to_string(expected) + " bytes");
      }
    }
    input.data = std::span<const std::byte>(bytes.data(), bytes.size());
    input.owner = std::shared_ptr<const void>(map, map->base);
  }
  return std::nullopt;
}

std::optional<error> system_shared_memory::check_outputs(
    const std::vector<std::pair<std::string, shared_memory_ref>>& wanted) const {
  for (const auto& [name, ref] : wanted) {
    auto located = locate(ref, wire::quoted_label("output", name));
    if (auto* failure = std::get_if<error>(&located)) return std::move(*failure);
  }
  return std::nullopt;
}

std::optional<error> system_shared_memory::write_outputs(
    const std::vector<tensor>& outputs, const std::vector<std::pair<std::string, shared_memory_ref>>& wanted) const {
  for (const auto& [name, ref] : wanted) {
    const tensor* output = nullptr;
    for (const auto& t : outputs) {
      if (t.name == name) output = &t;
    }
    if (!output) continue;
    const auto label = wire::quoted_label("output", name);
    auto located = locate(ref, label);
    if (auto* failure = std::get_if<error>(&located)) return std::move(*failure);
    auto& [bytes, map] = std::get<0>(located);
    if (output->data.size() > bytes.size()) {
      return invalid(label + " is " + std::to_string(output->data.size()) + " bytes but " + region_label(ref.region) +
                     " gives it " + std::to_string(bytes.size()) + " (shared_memory_byte_size)");
    }
    if (!output->data.empty()) std::memcpy(bytes.data(), output->data.data(), output->data.size());
  }
  return std::nullopt;
}

}  // namespace surge
