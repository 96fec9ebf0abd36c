// Padding for ragged batches (config allow_ragged_batch): requests whose
// shapes of one input differ after dim 0 are joined into one tensor whose
// every dim after the first is the batch's longest, each request's rows
// copied into the top-left corner of theirs and the rest zero. For a BERT
// encoder that is what its tokenizer would have padded with (token 0,
// attention_mask 0), so a padded row scores as it would alone.
//
// Only fixed-size element types are padded; the scheduler puts requests of
// different shapes into one batch only for inputs declared ragged.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

namespace surge::onnx {

struct ragged_part {
  std::span<const std::int64_t> shape;  // dim 0: this request's rows
  std::span<const std::byte> bytes;     // row-major, shape's element count * element_size
};

struct padded_batch {
  std::vector<std::int64_t> shape;  // dim 0: every request's rows; the rest: the longest of each dim
  std::vector<std::int64_t> rows;   // each request's dim 0, in batch order
  std::vector<std::byte> bytes;
};

// Whether the parts' shapes differ after dim 0 (and so need pad_ragged).
inline bool is_ragged(std::span<const ragged_part> parts) {
  for (const auto& part : parts) {
    const auto& first = parts.front().shape;
    if (part.shape.size() != first.size()) return true;
    for (std::size_t d = 1; d < first.size(); ++d) {
      if (part.shape[d] != first[d]) return true;
    }
  }
  return false;
}

// Throws std::invalid_argument naming `name` when ranks differ, a part has no
// batch dim, or a part's bytes do not match its shape.
inline padded_batch pad_ragged(const std::string& name, std::span<const ragged_part> parts, std::size_t element_size) {
  padded_batch out;
  if (parts.empty()) return out;
  const std::size_t rank = parts.front().shape.size();
  if (rank == 0) throw std::invalid_argument("input '" + name + "' has no batch dimension to pad along");
  out.shape.assign(rank, 0);
  for (const auto& part : parts) {
    if (part.shape.size() != rank) {
      throw std::invalid_argument("input '" + name + "' has requests of rank " + std::to_string(rank) + " and " +
                                  std::to_string(part.shape.size()) + " in one batch");
    }
    std::int64_t count = 1;
    for (const auto dim : part.shape) count *= dim;
    if (static_cast<std::size_t>(count) * element_size != part.bytes.size()) {
      throw std::invalid_argument("input '" + name + "' has " + std::to_string(part.bytes.size()) +
                                  " bytes, which does not match its shape");
    }
    out.rows.push_back(part.shape[0]);
    out.shape[0] += part.shape[0];
    for (std::size_t d = 1; d < rank; ++d) out.shape[d] = std::max(out.shape[d], part.shape[d]);
  }
  std::int64_t total = 1;
  for (const auto dim : out.shape) total *= dim;
  out.bytes.assign(static_cast<std::size_t>(total) * element_size, std::byte{0});

  // Strides in elements of the padded tensor.
  std::vector<std::int64_t> stride(rank, 1);
  for (std::size_t d = rank - 1; d > 0; --d) stride[d - 1] = stride[d] * out.shape[d];

  std::int64_t row_base = 0;
  for (const auto& part : parts) {
    const auto inner = part.shape[rank - 1];  // a contiguous run of the source
    std::int64_t runs = 1;
    for (std::size_t d = 0; d + 1 < rank; ++d) runs *= part.shape[d];
    std::vector<std::int64_t> index(rank, 0);  // of the run's first element, in the part
    for (std::int64_t run = 0; run < runs && inner > 0; ++run) {
      std::int64_t target = row_base * stride[0];
      for (std::size_t d = 0; d + 1 < rank; ++d) target += index[d] * stride[d];
      std::memcpy(out.bytes.data() + static_cast<std::size_t>(target) * element_size,
                  part.bytes.data() + static_cast<std::size_t>(run * inner) * element_size,
                  static_cast<std::size_t>(inner) * element_size);
      for (std::size_t d = rank - 1; d-- > 0;) {  // next index over dims 0..rank-2
        if (++index[d] < part.shape[d]) break;
        index[d] = 0;
      }
    }
    row_base += part.shape[0];
  }
  return out;
}

}  // namespace surge::onnx
