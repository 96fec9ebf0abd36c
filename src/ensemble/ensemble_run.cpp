#include "ensemble/ensemble_run.hpp"

#include <algorithm>

namespace surge::ensemble {
namespace {

class step_sink final : public response_sink {
 public:
  step_sink(std::shared_ptr<ensemble_run> run, std::size_t step) : run_(std::move(run)), step_(step) {}

  void send(inference_response response) override { run_->step_sent(step_, std::move(response)); }
  void finish(std::optional<error> failure) override { run_->step_finished(step_, std::move(failure)); }

 private:
  std::shared_ptr<ensemble_run> run_;
  std::size_t step_;
};

}  // namespace

ensemble_run::ensemble_run(std::shared_ptr<const ensemble_plan> plan, request_ptr request, step_target target,
                           std::shared_ptr<ensemble_metrics> metrics, std::function<void()> done)
    : plan_(std::move(plan)),
      request_(std::move(request)),
      target_(std::move(target)),
      metrics_(std::move(metrics)),
      done_(std::move(done)),
      waiting_(plan_->steps.size()),
      submitted_(plan_->steps.size()) {
  for (std::size_t i = 0; i < plan_->steps.size(); ++i) waiting_[i] = plan_->steps[i].produced_inputs;
}

void ensemble_run::start() {
  std::vector<ready_step> ready;
  {
    std::lock_guard lock(mutex_);
    for (const auto& input : request_->inputs) tensors_.emplace(input.name, input);
    for (const auto index : plan_->initial_steps) ready.push_back({index, make_step_request(index)});
  }
  submit(std::move(ready));
}

request_ptr ensemble_run::make_step_request(std::size_t index) {
  const auto& step = plan_->steps[index];
  auto made = std::make_unique<inference_request>();
  made->id = request_->id;
  made->model = step.model_name;
  made->version = step.model_version.value_or(0);
  for (const auto& [input, name] : step.inputs) {
    // An optional ensemble input the client left out: the step goes without it.
    const auto it = tensors_.find(name);
    if (it == tensors_.end()) continue;
    auto passed = it->second;  // shares the buffer
    passed.name = input;
    made->inputs.push_back(std::move(passed));
  }
  for (const auto& [output, name] : step.outputs) made->requested_outputs.push_back(output);
  made->parameters = request_->parameters;
  made->priority = request_->priority;
  // The ensemble's deadline bounds every step: the step's model keeps it
  // unless its own queue policy sets one.
  made->deadline = request_->deadline;
  if (request_->deadline) {
    made->timeout = std::max(std::chrono::microseconds(1), std::chrono::duration_cast<std::chrono::microseconds>(
                                                               *request_->deadline - clock::now()));
  }
  made->cancellation = request_->cancellation;
  made->traceparent = request_->traceparent;
  made->sink = std::make_shared<step_sink>(shared_from_this(), index);
  submitted_[index] = clock::now();
  ++running_;
  return made;
}

void ensemble_run::submit(std::vector<ready_step> ready) {
  // Outside the lock: a step refused at once answers its sink on this thread.
  for (auto& [index, request] : ready) target_(plan_->steps[index], std::move(request));
}

void ensemble_run::step_sent(std::size_t index, inference_response response) {
  const auto& step = plan_->steps[index];
  std::lock_guard lock(mutex_);
  for (auto& output : response.outputs) {
    const auto mapped = std::find_if(step.outputs.begin(), step.outputs.end(),
                                     [&output](const auto& mapping) { return mapping.first == output.name; });
    if (mapped == step.outputs.end()) continue;
    output.name = mapped->second;
    tensors_.insert_or_assign(mapped->second, std::move(output));
  }
}

void ensemble_run::step_finished(std::size_t index, std::optional<error> failure) {
  const auto& step = plan_->steps[index];
  const auto where = describe_step(plan_->name, index, step.model_name);
  std::vector<ready_step> ready;
  bool last = false;
  {
    std::lock_guard lock(mutex_);
    --running_;
    metrics_->step_duration[index]->observe(std::chrono::duration<double>(clock::now() - submitted_[index]).count());
    if (!failure) {
      for (const auto& [output, name] : step.outputs) {
        if (!tensors_.contains(name)) {
          failure = make_error(error_code::internal, "the model answered without output '" + output + "'");
          break;
        }
      }
    }
    if (failure) {
      metrics_->step_failures[index]->increment();
      if (!failure_) failure_ = error{failure->code, where + ": " + failure->message, failure->retry_after};
    } else if (!failure_ && request_->cancellation->cancelled()) {
      failure_ = make_error(error_code::cancelled, where + ": the request was cancelled before the next step");
    }
    if (!failure_) {
      for (const auto consumer : step.consumers) {
        if (--waiting_[consumer] == 0) ready.push_back({consumer, make_step_request(consumer)});
      }
    }
    last = running_ == 0;
  }
  submit(std::move(ready));
  if (last) answer();
}

void ensemble_run::answer() {
  // No step runs and none can start: nothing else touches the state.
  if (failure_) {
    request_->sink->finish(std::move(failure_));
  } else {
    inference_response response;
    if (request_->requested_outputs.empty()) {
      for (const auto& [name, source] : plan_->outputs) response.outputs.push_back(tensors_.at(name));
    } else {
      for (const auto& name : request_->requested_outputs) {
        if (const auto it = tensors_.find(name); it != tensors_.end()) response.outputs.push_back(it->second);
      }
    }
    request_->sink->send(std::move(response));
    request_->sink->finish(std::nullopt);
  }
  if (done_) done_();
}

}  // namespace surge::ensemble
