#pragma once

// What the KServe v2 load target sends: the model's inputs as its metadata
// describes them, resolved to concrete shapes, filled with random values and
// encoded once as a request body (JSON, or JSON plus Triton's binary tensor
// section). Pure functions, no I/O.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "bench/bench_options.hpp"
#include "core/data_type.hpp"

namespace surge::bench {

struct input_spec {
  std::string name;
  data_type type{data_type::invalid};
  std::vector<std::int64_t> shape;  // from metadata: -1 marks a variable dimension
};

struct model_metadata {
  std::string name;
  std::vector<std::string> versions;
  std::vector<input_spec> inputs;
};

// The body of GET /v2/models/{m}[/versions/{v}].
parsed<model_metadata> parse_model_metadata(std::string_view json);

// max_batch_size from the body of GET /v2/models/{m}/config; nullopt when the
// body does not carry it (the caller then guesses from the shapes).
std::optional<std::int64_t> parse_max_batch_size(std::string_view json);

// Gives every -1 a size: the batch dimension (the first, when `batching`)
// becomes `rows`, the others 1, unless an override names the input. An
// override lists either the full shape or, for a batching model, only the
// dimensions after the batch one. Every override must name a known input and
// agree with the metadata's fixed dimensions.
parsed<std::vector<input_spec>> resolve_shapes(const std::vector<input_spec>& inputs, bool batching,
                                               std::int64_t rows, const std::vector<shape_override>& overrides);

struct request_body {
  std::string bytes;
  std::optional<std::size_t> json_length;  // set for binary bodies: Inference-Header-Content-Length
  std::int64_t rows{1};                    // rows per request, for rows/s
  std::vector<input_spec> inputs;          // what the body carries, for reports
};

struct synthesis_options {
  bool binary{false};
  std::size_t string_length{16};  // BYTES elements
  std::uint64_t seed{1};
};

// Random values of each input's type: floats in [0, 1), integers in [0, 100)
// (small enough to be valid indices for most embedding tables), booleans,
// and lowercase alphanumeric strings. Binary bodies ask for binary outputs too.
request_body synthesize_request(const std::vector<input_spec>& inputs, bool batching, const synthesis_options& options);

// A KServe v2 JSON request body read from a file: sent as it is, or, with
// `binary`, re-encoded with every input in the binary section.
parsed<request_body> request_from_file(const std::string& contents, bool batching, bool binary);

// Every input's bytes as raw tensor data (little-endian elements, BYTES
// elements each behind a 4-byte length), for protocols that carry tensors
// raw: KServe v2 gRPC's raw_input_contents.
struct raw_request {
  std::vector<input_spec> inputs;
  std::vector<std::string> tensors;          // one per input, same order
  std::vector<std::string> outputs;          // requested outputs; empty: all
  std::optional<std::uint32_t> priority;     // from an input file's parameters
  std::optional<std::uint64_t> timeout_us;   // from an input file's parameters
  std::int64_t rows{1};
  std::size_t byte_size() const;             // all tensors together
};

// The same values synthesize_request puts in a binary body for the same
// options, split per input.
raw_request synthesize_raw_request(const std::vector<input_spec>& inputs, bool batching,
                                   const synthesis_options& options);

// A KServe v2 JSON request body read from a file, its tensors made raw.
parsed<raw_request> raw_request_from_file(const std::string& contents, bool batching);

struct response_check {
  std::optional<std::string> problem;  // nullopt: the body is a KServe v2 infer response
  std::string model_version;           // as the response names it; empty when absent
};

// A minimal check that a 200's body is a KServe v2 infer response: a JSON
// object with an "outputs" array whose entries have a name, a datatype, a
// shape, and data or a binary_data_size that the binary section accounts for.
response_check check_infer_response(std::string_view body, std::optional<std::size_t> json_length);

}  // namespace surge::bench
