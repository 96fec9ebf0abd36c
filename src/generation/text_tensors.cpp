#include "generation/text_tensors.hpp"

#include <cstring>

namespace surge {

std::variant<std::string, error> prompt_from_tensor(const inference_request& request) {
  for (const auto& input : request.inputs) {
    if (input.name != "text_input") continue;
    if (input.type != data_type::bytes) {
      return make_error(error_code::invalid_argument, "input 'text_input' must be BYTES");
    }
    if (input.data.size() < 4) return make_error(error_code::invalid_argument, "input 'text_input' is empty");
    std::uint32_t length = 0;
    std::memcpy(&length, input.data.data(), 4);  // little-endian, as the KServe encoding is
    if (input.data.size() < 4 + static_cast<std::size_t>(length)) {
      return make_error(error_code::invalid_argument, "input 'text_input': element length exceeds the data");
    }
    return std::string(reinterpret_cast<const char*>(input.data.data()) + 4, length);
  }
  return make_error(error_code::invalid_argument, "missing input 'text_input' (the prompt)");
}

tensor text_tensor(const std::string& text) {
  auto t = make_owned_tensor("text_output", data_type::bytes, {1}, 4 + text.size());
  const auto length = static_cast<std::uint32_t>(text.size());
  std::memcpy(mutable_data(t), &length, 4);
  if (!text.empty()) std::memcpy(mutable_data(t) + 4, text.data(), text.size());
  return t;
}

}  // namespace surge
