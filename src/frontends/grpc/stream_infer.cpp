#include "frontends/grpc/stream_infer.hpp"

#include <deque>
#include <mutex>
#include <optional>
#include <unordered_set>

#include "frontends/grpc/model_lookup.hpp"

namespace surge::grpc_frontend {

namespace {

using request_message = inference::ModelInferRequest;
using stream_response = inference::ModelStreamInferResponse;
using reactor_base = grpc::ServerBidiReactor<request_message, stream_response>;

// Answers queued for writing beyond which the stream stops reading new
// requests until the client has taken some: a client that sends without
// reading cannot make the server hold unbounded responses.
constexpr std::size_t max_pending_writes = 256;

void set_final_flag(inference::ModelInferResponse& response, bool final) {
  (*response.mutable_parameters())[std::string(final_response_parameter)].set_bool_param(final);
}

bool asks_for_final_flag(const request_message& message) {
  const auto it = message.parameters().find("triton_enable_empty_final_response");
  return it != message.parameters().end() && it->second.bool_param();
}

// What one stream's requests share with it. Sinks hold this, never the
// reactor: a request may finish after the call is gone, and then its
// answers are dropped here. Every reactor operation is decided under the
// lock (one read and one write outstanding at most, Finish only when
// neither is) and started after it is released.
class stream_state final : public std::enable_shared_from_this<stream_state> {
 public:
  stream_state(reactor_base* reactor, grpc::CallbackServerContext* context, const infer_environment& environment)
      : reactor_(reactor), context_(context), environment_(environment) {}

  void start() { advance(std::unique_lock(mutex_)); }

  void on_read_done(bool ok) {
    std::shared_ptr<request_message> message;
    {
      std::lock_guard lock(mutex_);
      read_outstanding_ = false;
      if (ok) {
        message = std::move(reading_);
        handling_ = true;
      } else {
        reads_done_ = true;  // the client closed its side, or the call ended
      }
    }
    if (message) handle(std::move(message));
    std::unique_lock lock(mutex_);
    handling_ = false;
    advance(std::move(lock));
  }

  void on_write_done(bool ok) {
    std::unique_lock lock(mutex_);
    write_outstanding_ = false;
    if (!ok) {
      end_early(lock);  // the stream broke under the write
      return;
    }
    advance(std::move(lock));
  }

  void on_cancel() {
    std::unique_lock lock(mutex_);
    end_early(lock);
  }

  // The reactor is about to be deleted: nothing may touch it any more, and
  // what still runs has nobody to answer.
  void on_done() {
    std::unordered_set<cancellation_ptr> running;
    {
      std::lock_guard lock(mutex_);
      finished_ = true;
      reactor_ = nullptr;
      running = running_;
    }
    for (const auto& cancellation : running) cancellation->cancel();
  }

  // From sinks, on any thread.
  void enqueue(stream_response response) {
    std::unique_lock lock(mutex_);
    if (finished_ || cancelled_) return;
    pending_.push_back(std::move(response));
    advance(std::move(lock));
  }

  void request_finished(const cancellation_ptr& cancellation) {
    std::unique_lock lock(mutex_);
    running_.erase(cancellation);
    advance(std::move(lock));
  }

 private:
  // Decides the next operations while holding the lock, then starts them
  // without it (gRPC may run a reaction on the calling thread).
  void advance(std::unique_lock<std::mutex> lock) {
    request_message* read = nullptr;
    const stream_response* write = nullptr;
    std::optional<grpc::Status> finish;
    if (!finished_) {
      if (!write_outstanding_ && !cancelled_ && !pending_.empty()) {
        writing_ = std::move(pending_.front());
        pending_.pop_front();
        write_outstanding_ = true;
        write = &writing_;
      }
      // One request at a time, in stream order.
      if (!read_outstanding_ && !handling_ && !reads_done_ && !cancelled_ && pending_.size() < max_pending_writes) {
        reading_ = std::make_shared<request_message>();
        read_outstanding_ = true;
        read = reading_.get();
      }
      const bool all_answered = reads_done_ && !handling_ && running_.empty() && pending_.empty();
      if (!read_outstanding_ && !write_outstanding_ && (cancelled_ || all_answered)) {
        finished_ = true;
        finish = cancelled_ ? grpc::Status(grpc::StatusCode::CANCELLED, "the stream was cancelled") : grpc::Status::OK;
      }
    }
    auto* reactor = reactor_;
    lock.unlock();
    if (write) reactor->StartWrite(write);
    if (read) reactor->StartRead(read);
    if (finish) reactor->Finish(*finish);
  }

  // Cancelled, or a write failed: drop what is queued, cancel what runs,
  // finish once the outstanding read and write have come back.
  void end_early(std::unique_lock<std::mutex>& lock) {
    cancelled_ = true;
    pending_.clear();
    auto running = running_;
    advance(std::move(lock));
    for (const auto& cancellation : running) cancellation->cancel();
  }

  void handle(std::shared_ptr<request_message> message);
  void answer_error(const request_message& message, const error& failure);

  reactor_base* reactor_;  // null after on_done(); used only by advance()
  grpc::CallbackServerContext* context_;
  infer_environment environment_;

  std::mutex mutex_;
  std::shared_ptr<request_message> reading_;  // guarded by mutex_: what the outstanding read fills
  stream_response writing_;                   // guarded by mutex_: what the outstanding write sends
  std::deque<stream_response> pending_;       // guarded by mutex_
  std::unordered_set<cancellation_ptr> running_;  // guarded by mutex_: submitted, not yet finished
  bool read_outstanding_{false};                  // guarded by mutex_
  bool handling_{false};                          // guarded by mutex_: a read request is being submitted
  bool reads_done_{false};                        // guarded by mutex_
  bool write_outstanding_{false};                 // guarded by mutex_
  bool cancelled_{false};                         // guarded by mutex_
  bool finished_{false};                          // guarded by mutex_: Finish was called
};

// Turns one request's answers into stream responses. A non-decoupled model
// answers once: the response is held until finish() so that it can carry
// triton_final_response itself. A decoupled one streams every response as it
// comes and, when asked, ends with an empty response flagged final.
class stream_sink final : public response_sink {
 public:
  stream_sink(std::shared_ptr<stream_state> stream, std::string model, std::int64_t version, std::string id,
              std::vector<std::string> requested, bool decoupled, bool flag_final,
              std::vector<std::pair<std::string, shared_memory_ref>> shared_outputs,
              const infer_environment& environment)
      : stream_(std::move(stream)),
        model_(std::move(model)),
        version_(version),
        id_(std::move(id)),
        requested_(std::move(requested)),
        decoupled_(decoupled),
        flag_final_(flag_final),
        shared_outputs_(std::move(shared_outputs)),
        shared_memory_(environment.shared_memory),
        gate_(environment.gate) {}

  void watch(cancellation_ptr cancellation) { cancellation_ = std::move(cancellation); }

  void send(inference_response response) override {
    if (decoupled_) {
      stream_->enqueue(make_response(response.outputs, false));
      return;
    }
    std::lock_guard lock(mutex_);
    if (!held_) held_ = std::move(response);
  }

  void finish(std::optional<error> failure) override {
    std::optional<inference_response> held;
    if (!failure && !decoupled_) {
      std::lock_guard lock(mutex_);
      held = std::move(held_);
    }
    if (!failure && held && !shared_outputs_.empty()) failure = shared_memory_.write_outputs(held->outputs, shared_outputs_);
    if (failure) {
      stream_response answer;
      answer.set_error_message(failure->message);
      auto& infer = *answer.mutable_infer_response();
      infer.set_model_name(model_);
      infer.set_model_version(std::to_string(version_));
      infer.set_id(id_);
      if (flag_final_) set_final_flag(infer, true);
      stream_->enqueue(std::move(answer));
    } else if (!decoupled_) {
      stream_->enqueue(make_response(held ? held->outputs : std::vector<tensor>{}, true));
    } else if (flag_final_) {
      stream_->enqueue(make_response({}, true));
    }
    stream_->request_finished(cancellation_);
    gate_.leave();
  }

 private:
  stream_response make_response(const std::vector<tensor>& outputs, bool final) const {
    stream_response answer;
    auto& infer = *answer.mutable_infer_response();
    encode_infer_response(model_, version_, id_, outputs, requested_, infer, shared_outputs_);
    if (flag_final_) set_final_flag(infer, final);
    return answer;
  }

  std::shared_ptr<stream_state> stream_;
  std::string model_;
  std::int64_t version_;
  std::string id_;
  std::vector<std::string> requested_;
  bool decoupled_;
  bool flag_final_;
  std::vector<std::pair<std::string, shared_memory_ref>> shared_outputs_;
  system_shared_memory& shared_memory_;
  request_gate& gate_;
  cancellation_ptr cancellation_;
  std::mutex mutex_;
  std::optional<inference_response> held_;  // guarded by mutex_
};

void stream_state::answer_error(const request_message& message, const error& failure) {
  stream_response answer;
  answer.set_error_message(failure.message);
  auto& infer = *answer.mutable_infer_response();
  infer.set_model_name(message.model_name());
  infer.set_model_version(message.model_version());
  infer.set_id(message.id());
  if (asks_for_final_flag(message)) set_final_flag(infer, true);
  enqueue(std::move(answer));
}

void stream_state::handle(std::shared_ptr<request_message> message) {
  auto& gate = environment_.gate;
  if (!gate.enter()) return answer_error(*message, make_error(error_code::not_ready, "server is shutting down"));

  auto found = find_servable_model(environment_.models, message->model_name(), message->model_version(),
                                   routing_key_of(*context_));
  if (auto* failure = std::get_if<error>(&found)) {
    gate.leave();
    return answer_error(*message, *failure);
  }
  auto model = std::move(std::get<std::shared_ptr<model_version>>(found));
  auto decoded = decode_infer_request(*message, message);
  if (auto* failure = std::get_if<error>(&decoded)) {
    gate.leave();
    model->metrics().count(request_outcome::invalid);
    return answer_error(*message, *failure);
  }
  auto& parsed = std::get<decoded_infer_request>(decoded);
  auto shared = attach_shared_memory(parsed, environment_);
  if (!shared && is_decoupled(*model) && !parsed.shared_memory_outputs.empty()) {
    shared = make_error(error_code::invalid_argument, "model '" + model->name() +
                                                          "' is decoupled: its outputs cannot be written to shared memory");
  }
  if (shared) {
    gate.leave();
    model->metrics().count(request_outcome::invalid);
    return answer_error(*message, *shared);
  }

  auto shared_outputs = parsed.shared_memory_outputs;
  auto sink = std::make_shared<stream_sink>(shared_from_this(), model->name(), model->version(), parsed.id,
                                            parsed.outputs, is_decoupled(*model), parsed.enable_empty_final_response,
                                            std::move(shared_outputs), environment_);
  auto inference = make_inference_request(std::move(parsed), *model, *context_, sink);
  sink->watch(inference->cancellation);
  {
    std::lock_guard lock(mutex_);
    running_.insert(inference->cancellation);
    // Cancelled while this request was decoded: it is answered CANCELLED
    // without running, like every request of the stream.
    if (cancelled_) inference->cancellation->cancel();
  }
  model->submit(std::move(inference));
}

class stream_reactor final : public reactor_base {
 public:
  stream_reactor(grpc::CallbackServerContext* context, const infer_environment& environment)
      : state_(std::make_shared<stream_state>(this, context, environment)) {
    state_->start();
  }

  void OnReadDone(bool ok) override { state_->on_read_done(ok); }
  void OnWriteDone(bool ok) override { state_->on_write_done(ok); }
  void OnCancel() override { state_->on_cancel(); }
  void OnDone() override {
    state_->on_done();
    delete this;
  }

 private:
  std::shared_ptr<stream_state> state_;
};

}  // namespace

reactor_base* start_model_stream_infer(grpc::CallbackServerContext* context, const infer_environment& environment) {
  return new stream_reactor(context, environment);
}

}  // namespace surge::grpc_frontend
