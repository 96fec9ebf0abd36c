// ModelInferRequest bytes, deserialized as the gRPC runtime does for
// ModelInfer and ModelStreamInfer, then the version check and the decoder
// both RPCs run before a request reaches its model. Decoded tensors must fit
// their byte sizes (raw_input_contents are views into the message); a
// refusal is invalid_argument with a message. What an identity model would
// answer (the inputs as outputs) is then encoded as the response.

#include <google/protobuf/stubs/logging.h>

#include <cstddef>
#include <cstdint>
#include <memory>

#include "frontends/grpc/infer_codec.hpp"
#include "fuzz_checks.hpp"

namespace {

using namespace surge;
using fuzz::check;

}  // namespace

// Protobuf logs every string field that is not UTF-8 as it parses; the
// parse fails, which is what the target looks at.
extern "C" int LLVMFuzzerInitialize(int*, char***) {
  google::protobuf::SetLogHandler(nullptr);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto message = std::make_shared<inference::ModelInferRequest>();
  if (!message->ParseFromArray(data, static_cast<int>(size))) return 0;

  auto version = grpc_frontend::parse_model_version(message->model_version());
  if (auto* failure = std::get_if<error>(&version)) fuzz::check_refusal(*failure);

  auto decoded = grpc_frontend::decode_infer_request(*message, message);
  if (auto* failure = std::get_if<error>(&decoded)) {
    fuzz::check_refusal(*failure);
    return 0;
  }
  const auto& request = std::get<grpc_frontend::decoded_infer_request>(decoded);
  for (const auto& input : request.inputs) fuzz::check_tensor(input);
  if (request.sampling) {
    check(!(request.sampling->temperature < 0) && !(request.sampling->top_p < 0) && !(request.sampling->top_p > 1),
          "accepted sampling parameters are in range");
  }

  inference::ModelInferResponse response;
  grpc_frontend::encode_infer_response(message->model_name(), 1, request.id, request.inputs, request.outputs, response);
  check(response.outputs_size() == response.raw_output_contents_size(), "every response output has its bytes");
  std::string bytes;
  check(response.SerializeToString(&bytes), "a response serializes");
  return 0;
}
