#include "instance/batch_assembly.hpp"

#include <cstring>
#include <algorithm>
#include <numeric>

namespace surge {

namespace {

// Byte offset where element `index` starts in a BYTES buffer (4-byte
// little-endian length before each element). SIZE_MAX when the buffer is
// malformed.
std::size_t bytes_offset(std::span<const std::byte> data, std::int64_t index) {
  std::size_t offset = 0;
  for (std::int64_t i = 0; i < index; ++i) {
    if (offset + 4 > data.size()) return SIZE_MAX;
    std::uint32_t length = 0;
    std::memcpy(&length, data.data() + offset, 4);  // little-endian hosts only, as the ABI states
    offset += 4 + length;
    if (offset > data.size()) return SIZE_MAX;
  }
  return offset;
}

std::int64_t elements_per_row(const tensor& t) {
  std::int64_t n = 1;
  for (std::size_t d = 1; d < t.shape.size(); ++d) n *= t.shape[d];
  return n;
}

}  // namespace

std::vector<tensor> gather_inputs(const std::vector<request_ptr>& batch) {
  if (batch.size() == 1) {
    // Binary request sections carry no alignment promise; backends that read
    // typed elements (torch::from_blob) need it, so realign the rare stragglers.
    std::vector<tensor> inputs = batch.front()->inputs;
    for (auto& input : inputs) {
      const auto alignment = std::max<std::size_t>(element_size(input.type), 1);
      if (reinterpret_cast<std::uintptr_t>(input.data.data()) % alignment == 0) continue;
      auto copy = make_owned_tensor(input.name, input.type, input.shape, input.data.size());
      std::memcpy(mutable_data(copy), input.data.data(), input.data.size());
      input = std::move(copy);
    }
    return inputs;
  }
  const auto& first = batch.front()->inputs;
  std::vector<tensor> gathered;
  gathered.reserve(first.size());
  for (std::size_t i = 0; i < first.size(); ++i) {
    std::int64_t rows = 0;
    std::size_t bytes = 0;
    for (const auto& request : batch) {
      rows += request->inputs[i].shape.empty() ? 1 : request->inputs[i].shape[0];
      bytes += request->inputs[i].data.size();
    }
    auto shape = first[i].shape;
    if (shape.empty()) shape.push_back(rows);
    else shape[0] = rows;
    auto out = make_owned_tensor(first[i].name, first[i].type, std::move(shape), bytes);
    std::byte* cursor = mutable_data(out);
    for (const auto& request : batch) {
      const auto& data = request->inputs[i].data;
      if (!data.empty()) std::memcpy(cursor, data.data(), data.size());
      cursor += data.size();
    }
    gathered.push_back(std::move(out));
  }
  return gathered;
}

std::variant<std::vector<std::vector<tensor>>, error> scatter_outputs(const std::vector<tensor>& outputs,
                                                                       const std::vector<std::int64_t>& rows) {
  const std::int64_t total_rows = std::accumulate(rows.begin(), rows.end(), std::int64_t{0});
  std::vector<std::vector<tensor>> per_request(rows.size());
  for (auto& list : per_request) list.reserve(outputs.size());

  for (const auto& output : outputs) {
    if (rows.size() == 1) {
      per_request[0].push_back(output);
      continue;
    }
    if (output.shape.empty() || output.shape[0] != total_rows) {
      return make_error(error_code::internal, "output '" + output.name + "' has " +
                                                  (output.shape.empty() ? std::string("no batch dimension")
                                                                        : std::to_string(output.shape[0]) + " rows") +
                                                  " for a batch of " + std::to_string(total_rows) + " rows");
    }
    const std::int64_t per_row = elements_per_row(output);
    const std::size_t element_bytes = element_size(output.type);
    std::int64_t row = 0;
    for (std::size_t r = 0; r < rows.size(); ++r) {
      std::size_t begin = 0;
      std::size_t end = 0;
      if (output.type == data_type::bytes) {
        begin = bytes_offset(output.data, row * per_row);
        end = bytes_offset(output.data, (row + rows[r]) * per_row);
        if (begin == SIZE_MAX || end == SIZE_MAX) {
          return make_error(error_code::internal, "output '" + output.name + "' has malformed BYTES elements");
        }
      } else {
        begin = static_cast<std::size_t>(row * per_row) * element_bytes;
        end = static_cast<std::size_t>((row + rows[r]) * per_row) * element_bytes;
        if (end > output.data.size()) {
          return make_error(error_code::internal, "output '" + output.name + "' is shorter than its shape says");
        }
      }
      tensor slice;
      slice.name = output.name;
      slice.type = output.type;
      slice.shape = output.shape;
      slice.shape[0] = rows[r];
      slice.data = output.data.subspan(begin, end - begin);
      slice.owner = output.owner;
      per_request[r].push_back(std::move(slice));
      row += rows[r];
    }
  }
  return per_request;
}

std::vector<tensor> select_outputs(std::vector<tensor> outputs, const std::vector<std::string>& requested) {
  if (requested.empty()) return outputs;
  std::vector<tensor> selected;
  selected.reserve(requested.size());
  for (const auto& name : requested) {
    for (auto& output : outputs) {
      if (output.name == name) {
        selected.push_back(output);
        break;
      }
    }
  }
  return selected;
}

}  // namespace surge
