#include "backend_loader/output_checks.hpp"

#include <algorithm>

namespace surge::abi {

namespace {

std::string shape_string(const std::int64_t* shape, std::uint32_t rank) {
  std::string s = "[";
  for (std::uint32_t i = 0; i < rank; ++i) {
    if (i) s += ", ";
    s += std::to_string(shape[i]);
  }
  return s + "]";
}

}  // namespace

std::string check_output(const backend_model_spec& spec, const std::vector<tensor>& already, const char* name,
                         surge_data_type raw_type, const std::int64_t* shape, std::uint32_t rank,
                         std::uint64_t byte_size) {
  if (name == nullptr) return "an output without a name";
  const auto declared = std::find_if(spec.outputs.begin(), spec.outputs.end(),
                                     [&](const tensor_spec& s) { return s.name == name; });
  if (declared == spec.outputs.end()) return std::string("output '") + name + "', which the model does not declare";
  if (std::any_of(already.begin(), already.end(), [&](const tensor& t) { return t.name == name; })) {
    return std::string("output '") + name + "' a second time in one response";
  }
  const auto type = static_cast<data_type>(raw_type);
  if (type != declared->type) {
    return std::string("output '") + name + "': it is " + std::string(kserve_name(type)) + ", the model declares " +
           std::string(kserve_name(declared->type));
  }
  if (rank != 0 && shape == nullptr) return std::string("output '") + name + "': it has no shape";

  const std::uint32_t batch_rank = spec.max_batch_size > 0 ? 1 : 0;
  bool shape_ok = rank == declared->dims.size() + batch_rank;
  std::uint64_t elements = 1;
  for (std::uint32_t i = 0; shape_ok && i < rank; ++i) {
    shape_ok = shape[i] >= 0 && (i < batch_rank || declared->dims[i - batch_rank] == -1 ||
                                 declared->dims[i - batch_rank] == shape[i]);
    elements *= static_cast<std::uint64_t>(shape[i]);
  }
  if (!shape_ok) {
    return std::string("output '") + name + "': its shape " + shape_string(shape, rank) +
           " does not match the model's dims";
  }
  if (type != data_type::bytes && elements * element_size(type) != byte_size) {
    return std::string("output '") + name + "': shape " + shape_string(shape, rank) + " asked for " +
           std::to_string(byte_size) + " bytes, needs " + std::to_string(elements * element_size(type));
  }
  return {};
}

}  // namespace surge::abi
