#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "core/inference_request.hpp"

namespace surge::worker {

// Whether two requests' inputs can be concatenated along dim 0: the same
// inputs in the same order, the same datatypes, and the same dimensions
// after the first.
bool can_share_batch(const inference_request& a, const inference_request& b);

// Splits requests (indices into `requests`) into batches that can run
// together: the same version, inputs that can share a batch, and at most
// `max_batch_size` rows in all (0: the model does not batch, one request
// per batch). Requests keep their order within each batch; the first
// request of each batch is the earliest one not yet placed.
std::vector<std::vector<std::size_t>> group_batches(const std::vector<const inference_request*>& requests,
                                                    std::uint32_t max_batch_size);

}  // namespace surge::worker
