#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/cancellation.hpp"
#include "core/generation.hpp"
#include "core/response_sink.hpp"
#include "core/tensor.hpp"

namespace surge {

using clock = std::chrono::steady_clock;

// One request as every frontend hands it to the core. Inputs are views into
// bytes the request owns (usually the HTTP body, kept alive by tensor::owner).
struct inference_request {
  std::string id;
  std::string model;
  std::int64_t version{0};
  std::vector<tensor> inputs;
  // Empty: every output of the model.
  std::vector<std::string> requested_outputs;
  // Requested outputs to answer as their top classes (Triton's
  // classification extension): output name -> classes per batch row.
  std::vector<std::pair<std::string, std::uint32_t>> classifications;
  // The request's own parameters that the server does not consume itself,
  // for the backend (KServe "parameters"; values as strings: "true"/"false",
  // decimal numbers).
  std::vector<std::pair<std::string, std::string>> parameters;
  // 0: the model's default priority level; 1 is the highest.
  std::uint32_t priority{0};
  // The client's timeout, if it gave one; the model's queue policy decides
  // whether it applies. 0 means none.
  std::optional<std::chrono::microseconds> timeout;
  // Set at admission from `timeout` or the model's default timeout.
  std::optional<clock::time_point> deadline;
  clock::time_point arrival{clock::now()};
  cancellation_ptr cancellation{std::make_shared<cancellation_token>()};
  std::shared_ptr<response_sink> sink;
  // W3C traceparent, passed through untouched when present.
  std::string traceparent;
  // Text generation: the prompt and sampling parameters. Unset for tensor
  // requests; a generative model then reads its `text_input` tensor.
  std::optional<generation_options> generation;

  // Rows this request contributes to a batch (its dim 0); 1 when unbatched.
  std::int64_t batch_rows() const { return inputs.empty() || inputs[0].shape.empty() ? 1 : inputs[0].shape[0]; }
};

using request_ptr = std::unique_ptr<inference_request>;

}  // namespace surge
