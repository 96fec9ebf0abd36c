#pragma once

#include <variant>
#include <vector>

#include "core/response_sink.hpp"
#include "core/status.hpp"

namespace surge {

// What the backend made of one batch, for in_process_instance to deliver:
// the instance answers the sinks, so metrics and statistics are recorded in
// one place whatever the backend did.
struct batch_outcome {
  // One per request of the batch, in batch order:
  //   std::monostate      the backend took the request over (a decoupled
  //                       model answers its sink itself, perhaps later); its
  //                       entry in the batch is null
  //   inference_response  the request succeeded with these outputs
  //   error               the request failed
  using answer = std::variant<std::monostate, inference_response, error>;
  std::vector<answer> answers;
  // The backend failed the batch as a whole (its execute returned an error):
  // every request it had not answered carries that error.
  bool failed{false};
};

}  // namespace surge
