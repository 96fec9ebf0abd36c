#include "bench/kserve_grpc_target.hpp"

#include <grpcpp/channel.h>
#include <grpcpp/client_context.h>
#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>
#include <grpcpp/support/channel_arguments.h>

#include <boost/asio/async_result.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <chrono>
#include <fstream>
#include <sstream>

#include "bench/kserve_inputs.hpp"
#include "wire/grpc/grpc_service.grpc.pb.h"

namespace surge::bench {

namespace asio = boost::asio;

struct kserve_grpc_target::connection {
  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<inference::GRPCInferenceService::Stub> stub;
};

namespace {

std::string channel_target(const server_address& address) {
  const bool ipv6 = address.host.find(':') != std::string::npos;
  return (ipv6 ? "[" + address.host + "]" : address.host) + ":" + address.port;
}

std::string status_text(const grpc::Status& status) {
  return status_name("kserve-grpc", static_cast<unsigned>(status.error_code())) +
         (status.error_message().empty() ? "" : ": " + status.error_message());
}

// Sends the same request, one call at a time, on the shared channel. The
// call's context and response live in a shared state the completion
// callback holds, so they outlive the call whatever happens to the driver.
class kserve_grpc_driver final : public request_driver {
 public:
  kserve_grpc_driver(asio::any_io_executor executor, std::shared_ptr<kserve_grpc_target::connection> connection,
                     std::shared_ptr<const inference::ModelInferRequest> request, std::chrono::milliseconds timeout)
      : executor_(std::move(executor)),
        connection_(std::move(connection)),
        request_(std::move(request)),
        timeout_(timeout) {}

  asio::awaitable<request_outcome> send_one() override {
    struct call_state {
      grpc::ClientContext context;
      inference::ModelInferResponse response;
    };
    auto call = std::make_shared<call_state>();
    const auto deadline = std::chrono::system_clock::now() + timeout_;
    call->context.set_deadline(deadline);

    // The initiation captures only references: GCC 12 can destroy a
    // temporary in a co_await expression twice, which would release a
    // captured shared_ptr once too often.
    const auto status = co_await asio::async_initiate<decltype(asio::use_awaitable), void(grpc::Status)>(
        [this, &call](auto handler) {
          // std::function (gRPC's callback type) needs a copyable callable.
          auto shared_handler = std::make_shared<decltype(handler)>(std::move(handler));
          const auto resume_on = asio::get_associated_executor(*shared_handler, executor_);
          connection_->stub->async()->ModelInfer(
              &call->context, request_.get(), &call->response,
              [call, shared_handler, resume_on](grpc::Status status) {
                // gRPC's thread: hand the result back to the coroutine's executor.
                asio::post(resume_on, [shared_handler, status = std::move(status)]() mutable {
                  std::move (*shared_handler)(std::move(status));
                });
              });
        },
        asio::use_awaitable);

    request_outcome outcome;
    outcome.status = static_cast<unsigned>(status.error_code());
    outcome.ok = status.ok();
    if (status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED && std::chrono::system_clock::now() >= deadline) {
      outcome.failure = failure_kind::timeout;  // our --timeout-ms, not the server's queue timeout
    } else if (status.ok() && call->response.outputs_size() == 0) {
      outcome.failure = failure_kind::invalid_response;  // prepare() checked one answer in full
    }
    co_return outcome;
  }

  void close() override {}  // the channel is shared and closes with the target

 private:
  asio::any_io_executor executor_;
  std::shared_ptr<kserve_grpc_target::connection> connection_;
  std::shared_ptr<const inference::ModelInferRequest> request_;
  std::chrono::milliseconds timeout_;
};

}  // namespace

std::optional<std::string> check_grpc_infer_response(const inference::ModelInferResponse& response) {
  if (response.outputs_size() == 0) return std::string("the response has no outputs");
  for (const auto& output : response.outputs()) {
    if (output.name().empty() || output.datatype().empty()) return std::string("an output lacks a name or datatype");
  }
  if (response.raw_output_contents_size() > 0) {
    if (response.raw_output_contents_size() != response.outputs_size()) {
      return "the response has " + std::to_string(response.raw_output_contents_size()) +
             " raw_output_contents for " + std::to_string(response.outputs_size()) + " outputs";
    }
    return std::nullopt;
  }
  for (const auto& output : response.outputs()) {
    if (!output.has_contents()) return "output '" + output.name() + "' has neither raw nor typed contents";
  }
  return std::nullopt;
}

kserve_grpc_target::kserve_grpc_target(asio::any_io_executor executor, const bench_options& options)
    : executor_(std::move(executor)), options_(options) {}

kserve_grpc_target::~kserve_grpc_target() = default;

// The calls here block the I/O thread they run on; nothing else runs yet, so
// they delay nothing that is measured.
asio::awaitable<std::optional<std::string>> kserve_grpc_target::prepare() {
  const auto target = channel_target(options_.address);
  grpc::ChannelArguments arguments;
  arguments.SetMaxReceiveMessageSize(-1);  // the server's limit is the one that matters
  arguments.SetMaxSendMessageSize(-1);
  connection_ = std::make_shared<connection>();
  connection_->channel = grpc::CreateCustomChannel(target, grpc::InsecureChannelCredentials(), arguments);
  connection_->stub = inference::GRPCInferenceService::NewStub(connection_->channel);
  const auto with_deadline = [this](grpc::ClientContext& context) {
    context.set_deadline(std::chrono::system_clock::now() + options_.timeout);
  };

  // The model's inputs, from its metadata.
  inference::ModelMetadataRequest metadata_request;
  metadata_request.set_name(options_.model);
  metadata_request.set_version(options_.version);
  inference::ModelMetadataResponse metadata;
  {
    grpc::ClientContext context;
    with_deadline(context);
    const auto status = connection_->stub->ModelMetadata(&context, metadata_request, &metadata);
    if (status.error_code() == grpc::StatusCode::NOT_FOUND) {
      co_return "the server at " + target + " has no model '" + options_.model + "'" +
          (options_.version.empty() ? "" : " version " + options_.version) + ": " + status.error_message();
    }
    const auto code = status.error_code();
    if (code == grpc::StatusCode::UNAVAILABLE || code == grpc::StatusCode::DEADLINE_EXCEEDED) {
      co_return "cannot reach the gRPC server at " + target + " (" + status_text(status) + ")";
    }
    if (!status.ok()) co_return "ModelMetadata for '" + options_.model + "' failed: " + status_text(status);
  }
  std::vector<input_spec> inputs;
  for (const auto& input : metadata.inputs()) {
    const auto type = parse_kserve_data_type(input.datatype());
    if (!type) {
      co_return "model '" + options_.model + "': input '" + input.name() + "' has unknown datatype '" +
          input.datatype() + "'";
    }
    inputs.push_back({input.name(), *type, {input.shape().begin(), input.shape().end()}});
  }
  if (inputs.empty()) co_return "model '" + options_.model + "': its metadata lists no inputs";

  // Whether the first dimension is the batch: the config says; without one,
  // a leading -1 is taken to be it.
  std::optional<std::int64_t> max_batch_size;
  {
    inference::ModelConfigRequest config_request;
    config_request.set_name(options_.model);
    config_request.set_version(options_.version);
    inference::ModelConfigResponse config;
    grpc::ClientContext context;
    with_deadline(context);
    if (connection_->stub->ModelConfig(&context, config_request, &config).ok()) {
      max_batch_size = config.config().max_batch_size();
    }
  }
  const auto& first_shape = inputs.front().shape;
  const bool batching = max_batch_size ? *max_batch_size > 0 : (!first_shape.empty() && first_shape.front() == -1);

  // The request, built once.
  raw_request raw;
  if (!options_.input_file.empty()) {
    std::ifstream file(options_.input_file, std::ios::binary);
    if (!file) co_return "cannot read --input-file " + options_.input_file;
    std::ostringstream contents;
    contents << file.rdbuf();
    auto from_file = raw_request_from_file(contents.str(), batching);
    if (auto* problem = std::get_if<std::string>(&from_file)) co_return options_.input_file + ": " + *problem;
    raw = std::move(std::get<raw_request>(from_file));
  } else {
    auto resolved = resolve_shapes(inputs, batching, options_.rows, options_.shapes);
    if (auto* problem = std::get_if<std::string>(&resolved)) co_return *problem;
    if (max_batch_size && *max_batch_size > 0 && options_.rows > *max_batch_size && options_.shapes.empty()) {
      co_return "--rows " + std::to_string(options_.rows) + " exceeds the model's max_batch_size " +
          std::to_string(*max_batch_size);
    }
    raw = synthesize_raw_request(std::get<std::vector<input_spec>>(resolved), batching,
                                 {false, options_.string_length, options_.seed});
  }
  auto request = std::make_shared<inference::ModelInferRequest>();
  request->set_model_name(options_.model);
  request->set_model_version(options_.version);
  for (std::size_t i = 0; i < raw.inputs.size(); ++i) {
    const auto& spec = raw.inputs[i];
    auto& input = *request->add_inputs();
    input.set_name(spec.name);
    input.set_datatype(std::string(kserve_name(spec.type)));
    for (const auto d : spec.shape) input.add_shape(d);
    request->add_raw_input_contents(raw.tensors[i]);
    summary_.inputs.push_back({spec.name, std::string(kserve_name(spec.type)), spec.shape});
  }
  for (const auto& name : raw.outputs) request->add_outputs()->set_name(name);
  if (raw.priority) (*request->mutable_parameters())["priority"].set_uint64_param(*raw.priority);
  if (raw.timeout_us) {
    (*request->mutable_parameters())["timeout"].set_int64_param(static_cast<std::int64_t>(*raw.timeout_us));
  }
  infer_request_ = request;

  // One exchange end to end, checked in full: a request the server refuses
  // would otherwise make a whole run of errors.
  inference::ModelInferResponse probe;
  {
    grpc::ClientContext context;
    with_deadline(context);
    const auto status = connection_->stub->ModelInfer(&context, *infer_request_, &probe);
    if (!status.ok()) co_return "the server answered the first infer request with " + status_text(status);
  }
  if (auto problem = check_grpc_infer_response(probe)) {
    co_return "the answer to the first infer request is not a KServe v2 response: " + *problem;
  }

  summary_.protocol = "kserve-grpc";
  summary_.url = target;
  summary_.model = options_.model;
  summary_.version = !probe.model_version().empty() ? probe.model_version() : options_.version;
  summary_.encoding = "raw";
  summary_.request_bytes = infer_request_->ByteSizeLong();
  summary_.rows_per_request = raw.rows;
  co_return std::nullopt;
}

std::unique_ptr<request_driver> kserve_grpc_target::make_driver(asio::any_io_executor executor) {
  return std::make_unique<kserve_grpc_driver>(std::move(executor), connection_, infer_request_, options_.timeout);
}

}  // namespace surge::bench
