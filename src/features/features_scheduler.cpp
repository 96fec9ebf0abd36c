#include "features/features_scheduler.hpp"

#include <boost/asio/co_spawn.hpp>
#include <iostream>

#include "features/request_rows.hpp"

namespace surge::features {

namespace asio = boost::asio;

namespace {

constexpr const char* features_output = "FEATURES";

// Forwards the scoring model's answer, with the vector added when asked.
class forwarding_sink final : public response_sink {
 public:
  forwarding_sink(std::shared_ptr<response_sink> target, std::optional<tensor> vector, std::function<void()> done)
      : target_(std::move(target)), vector_(std::move(vector)), done_(std::move(done)) {}
  void send(inference_response response) override {
    if (vector_) response.outputs.push_back(std::move(*vector_));
    vector_.reset();
    target_->send(std::move(response));
  }
  void finish(std::optional<error> failure) override {
    target_->finish(std::move(failure));
    done_();
  }

 private:
  std::shared_ptr<response_sink> target_;
  std::optional<tensor> vector_;
  std::function<void()> done_;
};

}  // namespace

feature_state::feature_state(feature_spec s, metrics::registry& registry)
    : spec(std::move(s)), store(spec), series(registry) {
  const auto counter = [&](const char* outcome) {
    return &series.make_counter("surge_feature_events_total",
                                "Events of a features model's stream, by what became of them (a late event is also "
                                "applied)",
                                {{"model", spec.model}, {"outcome", outcome}});
  };
  counters = {counter("applied"), counter("late"), counter("too_late"), counter("malformed")};
}

features_scheduler::features_scheduler(asio::any_io_executor io, std::shared_ptr<feature_state> state,
                                       snapshot_source served)
    : io_(std::move(io)), state_(std::move(state)), served_(std::move(served)) {}

void features_scheduler::schedule(request_ptr request) {
  if (!requests_.enter()) {
    request->sink->finish(make_error(error_code::not_ready, "model '" + state_->spec.model + "' is not ready"));
    return;
  }
  asio::co_spawn(io_, score(std::move(request)), [self = shared_from_this()](std::exception_ptr failure) {
    if (failure) {
      try {
        std::rethrow_exception(failure);
      } catch (const std::exception& e) {
        std::cerr << "surge: features " << self->state_->spec.model << ": " << e.what() << std::endl;
      }
    }
  });
}

asio::awaitable<void> features_scheduler::score(request_ptr request) {
  auto self = shared_from_this();
  const auto& spec = state_->spec;
  const auto fail = [&](error failure) {
    request->sink->finish(std::move(failure));
    request_done();
  };
  auto parsed = read_request_rows(*request, spec);
  if (auto* failure = std::get_if<error>(&parsed)) {
    fail(std::move(*failure));
    co_return;
  }
  auto& rows = std::get<request_rows>(parsed);

  std::vector<std::vector<double>> attributes;
  if (auto failure = co_await state_->attributes->fetch(rows.entities, attributes)) {
    fail(std::move(*failure));
    co_return;
  }
  const auto t = rows.event_time_ms ? *rows.event_time_ms : state_->store.latest_time_ms().value_or(0);
  std::vector<std::vector<float>> windows(rows.entities.size(), std::vector<float>(spec.windows.size()));
  for (std::size_t r = 0; r < rows.entities.size(); ++r) state_->store.evaluate(rows.entities[r], t, windows[r]);

  const auto scoring = served_()->find_version(spec.scoring_model, std::nullopt);
  if (!scoring) {
    fail(make_error(error_code::not_ready, "model '" + spec.scoring_model + "' is not served"));
    co_return;
  }
  if (!state_->scoring_batched && rows.rows != 1) {
    fail(make_error(error_code::invalid_argument, "model '" + spec.scoring_model +
                                                      "' takes one row per request; got " + std::to_string(rows.rows)));
    co_return;
  }
  auto vector = assemble_vector(rows, spec, windows, attributes, state_->scoring_batched);

  auto scored = std::make_unique<inference_request>();
  scored->id = request->id;
  scored->model = spec.scoring_model;
  scored->version = scoring->version();
  scored->inputs.push_back(vector);
  bool want_features = rows.return_features;
  for (const auto& name : request->requested_outputs) {
    if (name == features_output) want_features = true;
    else scored->requested_outputs.push_back(name);
  }
  if (scored->requested_outputs.empty()) scored->requested_outputs = spec.outputs;
  scored->priority = request->priority;
  scored->timeout = request->timeout;
  scored->arrival = request->arrival;
  scored->cancellation = request->cancellation;
  scored->traceparent = request->traceparent;
  std::optional<tensor> answer_vector;
  if (want_features) {
    vector.name = features_output;
    vector.shape = {rows.rows, static_cast<std::int64_t>(spec.vector.size())};
    answer_vector = std::move(vector);
  }
  scored->sink = std::make_shared<forwarding_sink>(request->sink, std::move(answer_vector),
                                                   [self] { self->request_done(); });
  scoring->submit(std::move(scored));
}

void features_scheduler::request_done() { requests_.leave(); }

void features_scheduler::drain(clock::time_point, std::function<void()> drained) {
  requests_.drain(std::move(drained));
}

void features_scheduler::stop_inputs() {
  requests_.close();
  std::call_once(stopped_, [this] {
    state_->follower->stop();
    state_->attributes->stop();
    state_->series.remove_all();
    state_->entities_gauge.reset();
  });
}

void features_scheduler::join() { stop_inputs(); }

void features_scheduler::stop() { stop_inputs(); }

}  // namespace surge::features
