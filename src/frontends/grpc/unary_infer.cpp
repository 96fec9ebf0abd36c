#include "frontends/grpc/unary_infer.hpp"

#include <mutex>
#include <optional>

#include "frontends/grpc/grpc_status.hpp"
#include "frontends/grpc/model_lookup.hpp"

namespace surge::grpc_frontend {

namespace {

using request_message = inference::ModelInferRequest;
using response_message = inference::ModelInferResponse;

// gRPC holds one reference from AllocateMessages() until Release(); the
// input tensors and the sink hold others.
class infer_messages final : public grpc::MessageHolder<request_message, response_message>,
                             public std::enable_shared_from_this<infer_messages> {
 public:
  infer_messages() {
    set_request(&request_);
    set_response(&response_);
  }

  void Release() override {
    auto last_use = std::move(library_reference_);  // may destroy *this on return
  }

  std::shared_ptr<infer_messages> library_reference_;

 private:
  request_message request_;
  response_message response_;
};

class infer_reactor final : public grpc::ServerUnaryReactor {
 public:
  // Set before the reactor is returned to gRPC, which calls OnCancel only
  // after that.
  void watch(cancellation_ptr cancellation) { cancellation_ = std::move(cancellation); }

  // The client cancelled, its deadline passed or it disconnected: the
  // scheduler or the instance drops the request before it runs, and its
  // sink finishes the call with CANCELLED.
  void OnCancel() override {
    if (cancellation_) cancellation_->cancel();
  }
  void OnDone() override { delete this; }

 private:
  cancellation_ptr cancellation_;
};

// Collects the one response of a ModelInfer call and finishes the call with
// it. Finish is the last use of the reactor: gRPC deletes it in OnDone, which
// cannot run before Finish, and finish() runs exactly once.
class infer_sink final : public response_sink {
 public:
  infer_sink(infer_reactor* reactor, grpc::CallbackServerContext* context, std::shared_ptr<infer_messages> messages,
             std::string model, std::int64_t version, std::string id, std::vector<std::string> requested,
             std::vector<std::pair<std::string, shared_memory_ref>> shared_outputs, const infer_environment& environment)
      : reactor_(reactor),
        context_(context),
        messages_(std::move(messages)),
        model_(std::move(model)),
        version_(version),
        id_(std::move(id)),
        requested_(std::move(requested)),
        shared_outputs_(std::move(shared_outputs)),
        shared_memory_(environment.shared_memory),
        gate_(environment.gate) {}

  void send(inference_response response) override {
    std::lock_guard lock(mutex_);
    if (!response_) response_ = std::move(response);
  }

  void finish(std::optional<error> failure) override {
    grpc::Status status;
    if (failure) {
      status = to_status(*failure);
      if (failure->retry_after) {
        context_->AddTrailingMetadata("retry-after", std::to_string(failure->retry_after->count()));
      }
    } else {
      std::optional<inference_response> response;
      {
        std::lock_guard lock(mutex_);
        response = std::move(response_);
      }
      const auto& outputs = response ? response->outputs : std::vector<tensor>{};
      if (auto written = shared_memory_.write_outputs(outputs, shared_outputs_)) {
        status = to_status(*written);
      } else {
        encode_infer_response(model_, version_, id_, outputs, requested_, *messages_->response(), shared_outputs_);
      }
    }
    reactor_->Finish(std::move(status));
    gate_.leave();
  }

 private:
  infer_reactor* reactor_;
  grpc::CallbackServerContext* context_;
  std::shared_ptr<infer_messages> messages_;
  std::string model_;
  std::int64_t version_;
  std::string id_;
  std::vector<std::string> requested_;
  std::vector<std::pair<std::string, shared_memory_ref>> shared_outputs_;
  system_shared_memory& shared_memory_;
  request_gate& gate_;
  std::mutex mutex_;
  std::optional<inference_response> response_;  // guarded by mutex_
};

}  // namespace

grpc::MessageHolder<request_message, response_message>* infer_message_allocator::AllocateMessages() {
  auto messages = std::make_shared<infer_messages>();
  messages->library_reference_ = messages;
  return messages.get();
}

grpc::ServerUnaryReactor* start_model_infer(grpc::CallbackServerContext* context, const request_message* request,
                                            const infer_environment& environment) {
  auto* reactor = new infer_reactor();
  const auto refuse = [reactor](const error& failure) {
    reactor->Finish(to_status(failure));
    return reactor;
  };
  if (!environment.gate.enter()) return refuse(make_error(error_code::not_ready, "server is shutting down"));

  auto found = find_servable_model(environment.models, request->model_name(), request->model_version(),
                                   routing_key_of(*context));
  if (auto* failure = std::get_if<error>(&found)) {
    environment.gate.leave();
    return refuse(*failure);
  }
  auto model = std::move(std::get<std::shared_ptr<model_version>>(found));
  if (is_decoupled(*model)) {
    environment.gate.leave();
    model->metrics().count(request_outcome::invalid);
    return refuse(make_error(error_code::invalid_argument, "model '" + model->name() +
                                                               "' is decoupled (it may answer a request many times): "
                                                               "use ModelStreamInfer"));
  }

  auto* holder = static_cast<infer_messages*>(context->GetRpcAllocatorState());
  auto messages = holder->shared_from_this();
  auto decoded = decode_infer_request(*request, messages);
  if (auto* failure = std::get_if<error>(&decoded)) {
    environment.gate.leave();
    model->metrics().count(request_outcome::invalid);
    return refuse(*failure);
  }
  auto& parsed = std::get<decoded_infer_request>(decoded);
  if (auto failure = attach_shared_memory(parsed, environment)) {
    environment.gate.leave();
    model->metrics().count(request_outcome::invalid);
    return refuse(*failure);
  }

  auto shared_outputs = parsed.shared_memory_outputs;
  auto sink = std::make_shared<infer_sink>(reactor, context, std::move(messages), model->name(), model->version(),
                                           parsed.id, parsed.outputs, std::move(shared_outputs), environment);
  auto inference = make_inference_request(std::move(parsed), *model, *context, std::move(sink));
  reactor->watch(inference->cancellation);
  model->submit(std::move(inference));
  return reactor;
}

}  // namespace surge::grpc_frontend
