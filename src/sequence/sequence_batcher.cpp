#include "sequence/sequence_batcher.hpp"

#include <algorithm>

namespace surge {

namespace {

constexpr std::chrono::microseconds default_idle{1'000'000};
// Sequences that may wait for a slot beyond those that hold one.
constexpr std::size_t waiting_sequences_per_slot = 4;

// Passes a step's answers through, then tells the batcher the sequence may
// go on: its next step is released only after this one is answered, so a
// client reading one stream sees the steps in order.
class step_sink final : public response_sink {
 public:
  step_sink(std::shared_ptr<response_sink> inner, std::shared_ptr<sequence_batcher> batcher, std::string id, bool ends)
      : inner_(std::move(inner)), batcher_(std::move(batcher)), id_(std::move(id)), ends_(ends) {}

  void send(inference_response response) override { inner_->send(std::move(response)); }
  void finish(std::optional<error> failure) override {
    inner_->finish(std::move(failure));
    batcher_->step_finished(id_, ends_);
  }

 private:
  std::shared_ptr<response_sink> inner_;
  std::shared_ptr<sequence_batcher> batcher_;
  std::string id_;
  bool ends_;
};

clock::duration idle_of(const config::ModelConfig& config) {
  const auto us = config.sequence_batching().max_sequence_idle_microseconds();
  return us == 0 ? clock::duration(default_idle) : clock::duration(std::chrono::microseconds(us));
}

}  // namespace

std::uint32_t sequence_slots(const config::ModelConfig& config, std::uint32_t instances) {
  const auto& sequence = config.sequence_batching();
  if (sequence.has_oldest()) return static_cast<std::uint32_t>(std::max(1, sequence.oldest().max_candidate_sequences()));
  return static_cast<std::uint32_t>(std::max(1, config.max_batch_size())) * std::max<std::uint32_t>(1, instances);
}

sequence_batcher::sequence_batcher(boost::asio::any_io_executor io, config::ModelConfig config, std::uint32_t slots,
                                   std::shared_ptr<request_scheduler> queue)
    : config_(std::move(config)),
      queue_(std::move(queue)),
      table_(config_.name(), slots, idle_of(config_), waiting_sequences_per_slot * slots),
      timer_(io) {}

void sequence_batcher::schedule(request_ptr request) {
  auto controls = read_sequence_controls(config_, *request);
  if (auto* failure = std::get_if<error>(&controls)) {
    request->sink->finish(std::move(*failure));
    return;
  }
  sequence_table::effects out;
  {
    std::lock_guard lock(mutex_);
    if (closed_) {
      out.refused.emplace_back(std::move(request),
                               make_error(error_code::not_ready, "model '" + config_.name() + "' is shutting down"));
    } else {
      table_.arrive(std::move(request), std::get<sequence_controls>(std::move(controls)), clock::now(), out);
      arm_timer();
    }
  }
  apply(out);
}

void sequence_batcher::step_finished(const std::string& id, bool ended) {
  sequence_table::effects out;
  {
    std::lock_guard lock(mutex_);
    if (closed_) return;
    table_.finished(id, ended, clock::now(), out);
    arm_timer();
  }
  apply(out);
}

void sequence_batcher::apply(sequence_table::effects& out) {
  for (auto& [request, failure] : out.refused) request->sink->finish(std::move(failure));
  for (auto& step : out.run) {
    add_sequence_controls(config_, step.controls, step.slot, *step.request);
    step.request->sink =
        std::make_shared<step_sink>(std::move(step.request->sink), shared_from_this(), step.controls.id, step.controls.end);
    queue_->schedule(std::move(step.request));
  }
}

void sequence_batcher::arm_timer() {
  const auto next = table_.next_expiry();
  if (!next || (timer_at_ && *timer_at_ <= *next)) return;
  timer_at_ = *next;
  timer_.expires_at(*next);
  timer_.async_wait([weak = weak_from_this()](boost::system::error_code ec) {
    if (ec) return;
    if (auto self = weak.lock()) self->on_timer();
  });
}

void sequence_batcher::on_timer() {
  sequence_table::effects out;
  {
    std::lock_guard lock(mutex_);
    timer_at_.reset();
    if (closed_) return;
    table_.expire(clock::now(), out);
    arm_timer();
  }
  apply(out);
}

void sequence_batcher::close(const std::string& why) {
  std::vector<request_ptr> waiting;
  {
    std::lock_guard lock(mutex_);
    closed_ = true;
    timer_.cancel();
    waiting = table_.take_waiting();
  }
  for (auto& request : waiting) {
    request->sink->finish(make_error(error_code::not_ready, "model '" + config_.name() + "' is " + why));
  }
}

void sequence_batcher::drain(clock::time_point deadline, std::function<void()> drained) {
  close("being unloaded");
  queue_->drain(deadline, std::move(drained));
}

void sequence_batcher::join() { queue_->join(); }

void sequence_batcher::stop() {
  close("shutting down");
  queue_->stop();
}

}  // namespace surge
