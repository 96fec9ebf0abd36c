#pragma once

#include <memory>

#include "frontends/http/http_server.hpp"
#include "router/model_version.hpp"

namespace surge::http {

// KServe/Triton's generate extension for generative models:
//   POST /v2/models/{m}/generate         {"text_input": "...", "parameters": {...}}
//     -> {"model_name", "model_version", "text_output"}
//   POST /v2/models/{m}/generate_stream  the same, answered as Server-Sent
//     Events, one {"model_name", "model_version", "text_output"} per chunk.
// Sampling parameters may sit in "parameters" or at the top level.
asio::awaitable<handler_result> kserve_generate(request_message& request, connection_stream& stream,
                                                std::shared_ptr<model_version> model, bool streaming);

}  // namespace surge::http
