#pragma once

// What a request of a stateful model (config sequence_batching) says about
// its sequence, read from the request parameters every frontend fills in
// (Triton's sequence_id, sequence_start, sequence_end), and the control
// tensors the config asks the server to add.

#include <cstdint>
#include <string>
#include <variant>

#include "config/model_config.pb.h"
#include "core/inference_request.hpp"
#include "core/status.hpp"

namespace surge {

struct sequence_controls {
  // The correlation id as the client sent it: a decimal integer or a string.
  std::string id;
  bool start{false};
  bool end{false};
};

// invalid_argument naming the parameter when the id is missing (or 0, which
// Triton's clients send for "no sequence"), a flag is not a boolean, or the
// config's CORRID control is an integer type and the id is not an integer.
std::variant<sequence_controls, error> read_sequence_controls(const config::ModelConfig& config,
                                                              const inference_request& request);

// Adds the config's control_input tensors (START, END, READY, CORRID) for
// this step, with the batch dimension when the model batches, and the
// "sequence_slot" parameter: the slot (0..slots-1) the sequence holds while
// it is live, for a backend that keeps its state per slot.
void add_sequence_controls(const config::ModelConfig& config, const sequence_controls& controls, std::uint32_t slot,
                           inference_request& request);

}  // namespace surge
