#include "generation/sequence_scheduler.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <condition_variable>
#include <cstring>
#include <functional>
#include <mutex>
#include <thread>

namespace surge {
namespace {

using namespace std::chrono_literals;

constexpr auto wait_limit = 10s;
constexpr std::int32_t eos = 256;
constexpr std::uint32_t vocab = 257;
// The predicted token's logit (0 elsewhere): at temperature 1 every other
// token together has 256 * e^-50 of the mass, so sampled requests (a tensor
// request carries no sampling parameters) follow the pattern too.
constexpr float confidence = 50.0f;

// What the fake engine did, and the knobs a test turns. Shared by the test
// and the engine (which the scheduler owns and calls from its own thread).
struct engine_control {
  struct prefill_call {
    std::uint32_t slot;
    std::size_t tokens;
  };

  std::mutex mutex;
  std::condition_variable changed;
  // Records, in call order.
  std::vector<std::string> events;  // "prefill S", "step N", "release S"
  std::vector<prefill_call> prefills;
  std::vector<std::size_t> step_sizes;
  std::vector<std::uint32_t> releases;
  // Steps pass the gate freely unless held; a held gate lets `permits` through.
  bool held{false};
  std::uint64_t permits{0};
  std::uint32_t at_gate{0};  // steps waiting at a held gate now
  // The next step of exactly this many sequences fails; 0: none.
  std::size_t fail_step_of_size{0};
  // Predict EOS once this many tokens followed the prompt's distinct bytes; 0: never.
  std::uint32_t eos_after{0};

  template <typename Predicate>
  bool wait_for(Predicate predicate) {
    std::unique_lock lock(mutex);
    return changed.wait_for(lock, wait_limit, predicate);
  }
  // Stops the next step at the gate.
  void hold() {
    std::lock_guard lock(mutex);
    held = true;
    permits = 0;
  }
  void allow(std::uint64_t steps) {
    {
      std::lock_guard lock(mutex);
      permits += steps;
    }
    changed.notify_all();
  }
  void open() {
    {
      std::lock_guard lock(mutex);
      held = false;
    }
    changed.notify_all();
  }
  // Waits until a step of `size` sequences is stopped at the held gate.
  bool wait_at_gate(std::size_t size) {
    return wait_for([&] { return at_gate > 0 && !step_sizes.empty() && step_sizes.back() == size; });
  }
  // Where the events starting with `kind` ("prefill", "release") are in the record.
  std::vector<std::size_t> positions_of(std::string_view kind) {
    std::lock_guard lock(mutex);
    std::vector<std::size_t> out;
    for (std::size_t i = 0; i < events.size(); ++i) {
      if (events[i].starts_with(kind)) out.push_back(i);
    }
    return out;
  }
};

// Tokens are bytes; EOS is 256. The next token is the one that followed the
// last token's first occurrence (wrapping to the first), so a prompt of
// distinct characters repeats itself: "abc" continues "abcabc...". Depends
// only on the tokens, so a preempted sequence prefilled again continues the
// same text. The same rule as the echo_lm backend, in-process.
void predict(const std::vector<std::int32_t>& t, std::uint32_t eos_after, std::span<float> logits) {
  std::fill(logits.begin(), logits.end(), 0.0f);
  if (t.empty()) {
    logits[eos] = confidence;
    return;
  }
  std::size_t distinct = t.size();
  for (std::size_t i = 1; i < t.size() && distinct == t.size(); ++i) {
    const auto seen = t.begin() + static_cast<std::ptrdiff_t>(i);
    if (std::find(t.begin(), seen, t[i]) != seen) distinct = i;
  }
  if (eos_after != 0 && t.size() - distinct >= eos_after) {
    logits[eos] = confidence;
    return;
  }
  const auto at = static_cast<std::size_t>(std::find(t.begin(), t.end(), t.back()) - t.begin());
  logits[static_cast<std::size_t>(t[at + 1 < t.size() ? at + 1 : 0])] = confidence;
}

class echo_model final : public generation_model {
 public:
  explicit echo_model(generation_limits limits) : limits_(limits) {}
  const generation_limits& limits() const override { return limits_; }
  std::variant<std::vector<std::int32_t>, error> tokenize(std::string_view text) const override {
    std::vector<std::int32_t> out;
    for (char c : text) out.push_back(static_cast<unsigned char>(c));
    return out;
  }
  std::variant<std::string, error> detokenize(std::span<const std::int32_t> tokens) const override {
    std::string out;
    for (auto t : tokens) {
      if (t >= 0 && t < 256) out.push_back(static_cast<char>(t));
    }
    return out;
  }

 private:
  generation_limits limits_;
};

class echo_engine final : public generation_engine {
 public:
  echo_engine(std::shared_ptr<engine_control> control, std::uint32_t slots)
      : control_(std::move(control)), cache_(slots) {}

  std::optional<error> prefill(std::uint32_t slot, std::span<const std::int32_t> tokens,
                               std::span<float> logits) override {
    std::uint32_t eos_after = 0;
    {
      std::lock_guard lock(control_->mutex);
      control_->events.push_back("prefill " + std::to_string(slot));
      control_->prefills.push_back({slot, tokens.size()});
      eos_after = control_->eos_after;
    }
    control_->changed.notify_all();
    if (slot >= cache_.size()) return make_error(error_code::internal, "prefill into a slot out of range");
    if (!cache_[slot].empty()) return make_error(error_code::internal, "prefill into a slot not released");
    cache_[slot].assign(tokens.begin(), tokens.end());
    predict(cache_[slot], eos_after, logits.first(vocab));
    return std::nullopt;
  }

  std::optional<error> step(std::span<const std::uint32_t> slots, std::span<const std::int32_t> tokens,
                            std::span<const std::uint32_t> positions, std::span<float> logits) override {
    std::uint32_t eos_after = 0;
    bool fail = false;
    {
      std::unique_lock lock(control_->mutex);
      control_->events.push_back("step " + std::to_string(slots.size()));
      control_->step_sizes.push_back(slots.size());
      if (control_->held) {
        ++control_->at_gate;
        control_->changed.notify_all();
        control_->changed.wait(lock, [&] { return !control_->held || control_->permits > 0; });
        if (control_->held) --control_->permits;
        --control_->at_gate;
      }
      fail = control_->fail_step_of_size != 0 && control_->fail_step_of_size == slots.size();
      if (fail) control_->fail_step_of_size = 0;
      eos_after = control_->eos_after;
    }
    control_->changed.notify_all();
    if (fail) return make_error(error_code::internal, "echo engine: injected failure");
    for (std::size_t i = 0; i < slots.size(); ++i) {
      auto& cached = cache_.at(slots[i]);
      // The scheduler must feed each slot the token at the position it holds.
      if (positions[i] != cached.size()) return make_error(error_code::internal, "step at the wrong position");
      cached.push_back(tokens[i]);
      predict(cached, eos_after, logits.subspan(i * vocab, vocab));
    }
    return std::nullopt;
  }

  void release(std::uint32_t slot) override {
    if (slot < cache_.size()) cache_[slot].clear();
    {
      std::lock_guard lock(control_->mutex);
      control_->events.push_back("release " + std::to_string(slot));
      control_->releases.push_back(slot);
    }
    control_->changed.notify_all();
  }

 private:
  std::shared_ptr<engine_control> control_;
  std::vector<std::vector<std::int32_t>> cache_;  // the "KV cache": every token fed to a slot
};

// Which sinks finished, in order (the scheduler finishes them on its thread).
struct finish_order {
  std::mutex mutex;
  std::vector<std::string> names;
};

// Records a generation's chunks and its one final answer.
class text_sink final : public response_sink {
 public:
  text_sink(std::string name, std::shared_ptr<finish_order> order) : name_(std::move(name)), order_(std::move(order)) {}

  void send(inference_response response) override {
    {
      std::lock_guard lock(mutex_);
      if (finish_count_ > 0) ++sent_after_finish_;
      if (response.generation) chunks_.push_back(*response.generation);
      // The text_output tensor carries the same text as the chunk.
      std::string tensor_text;
      for (const auto& output : response.outputs) {
        if (output.name != "text_output" || output.data.size() < 4) continue;
        std::uint32_t length = 0;
        std::memcpy(&length, output.data.data(), 4);
        tensor_text.assign(reinterpret_cast<const char*>(output.data.data()) + 4, length);
      }
      if (!response.generation || tensor_text != response.generation->text) ++mismatched_;
    }
    changed_.notify_all();
  }
  void finish(std::optional<error> failure) override {
    {
      std::lock_guard lock(mutex_);
      ++finish_count_;
      failure_ = std::move(failure);
    }
    if (order_) {
      std::lock_guard lock(order_->mutex);
      order_->names.push_back(name_);
    }
    changed_.notify_all();
  }

  bool wait_finished() {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, wait_limit, [&] { return finish_count_ > 0; });
  }
  bool wait_chunks(std::size_t count) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, wait_limit, [&] { return chunks_.size() >= count; });
  }

  std::string text() {
    std::lock_guard lock(mutex_);
    std::string out;
    for (const auto& c : chunks_) out += c.text;
    return out;
  }
  std::vector<generation_chunk> chunks() {
    std::lock_guard lock(mutex_);
    return chunks_;
  }
  int finish_count() {
    std::lock_guard lock(mutex_);
    return finish_count_;
  }
  std::optional<error> failure() {
    std::lock_guard lock(mutex_);
    return failure_;
  }
  int mismatched() {
    std::lock_guard lock(mutex_);
    return mismatched_;
  }
  int sent_after_finish() {
    std::lock_guard lock(mutex_);
    return sent_after_finish_;
  }
  std::optional<std::string> finish_reason() {
    std::lock_guard lock(mutex_);
    return chunks_.empty() ? std::nullopt : chunks_.back().finish_reason;
  }

 private:
  std::string name_;
  std::shared_ptr<finish_order> order_;
  std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<generation_chunk> chunks_;
  std::optional<error> failure_;
  int finish_count_{0};
  int mismatched_{0};
  int sent_after_finish_{0};
};

// The text a distinct-character prompt continues with, `tokens` long.
std::string echo_of(std::string_view prompt, std::size_t tokens) {
  std::string out;
  for (std::size_t i = 0; i < tokens; ++i) out.push_back(prompt[i % prompt.size()]);
  return out;
}

struct submitted {
  std::shared_ptr<text_sink> sink;
  cancellation_ptr cancellation;
};

// One sequence_scheduler over one echo_engine, and its metrics.
struct echo_scheduler {
  explicit echo_scheduler(sequence_scheduler_options options = {}, std::uint32_t slots = 4,
                          std::uint32_t max_context = 64) {
    generation_limits limits;
    limits.max_sequences = slots;
    limits.max_context = max_context;
    limits.vocab_size = vocab;
    limits.eos_token = eos;
    std::vector<std::unique_ptr<generation_engine>> engines;
    engines.push_back(std::make_unique<echo_engine>(control, slots));
    scheduler = std::make_unique<sequence_scheduler>("echo", options, std::make_shared<echo_model>(limits),
                                                     std::move(engines), metrics, generation, statistics);
  }
  ~echo_scheduler() {
    control->open();  // a step held at the gate would keep stop() waiting
    scheduler.reset();
  }

  // A greedy generation request; `adjust` sets anything else (timeout, arrival, ...).
  submitted submit(const std::string& name, const std::string& prompt, std::uint32_t max_tokens,
                   std::uint32_t priority = 0, const std::function<void(inference_request&)>& adjust = {}) {
    auto sink = std::make_shared<text_sink>(name, order);
    auto request = std::make_unique<inference_request>();
    request->id = name;
    request->model = "echo";
    request->priority = priority;
    generation_options options;
    options.prompt = prompt;
    options.sampling.temperature = 0.0f;  // the echo pattern exactly
    options.sampling.max_tokens = max_tokens;
    request->generation = std::move(options);
    request->sink = sink;
    if (adjust) adjust(*request);
    auto cancellation = request->cancellation;
    scheduler->schedule(std::move(request));
    return {sink, cancellation};
  }

  std::vector<std::string> finished_in_order() {
    std::lock_guard lock(order->mutex);
    return order->names;
  }

  metrics::registry registry;
  model_metrics metrics{registry, "echo", 1};
  generation_metrics generation{registry, "echo", 1};
  model_statistics statistics{1};
  std::shared_ptr<engine_control> control = std::make_shared<engine_control>();
  std::shared_ptr<finish_order> order = std::make_shared<finish_order>();
  std::unique_ptr<sequence_scheduler> scheduler;
};

sequence_scheduler_options with_running(std::uint32_t max_running) {
  sequence_scheduler_options options;
  options.policy.max_running = max_running;
  return options;
}

TEST(sequence_scheduler, streams_tokens_in_order_then_finishes_once) {
  echo_scheduler s;
  auto a = s.submit("a", "abcd", 10);
  ASSERT_TRUE(a.sink->wait_finished());
  EXPECT_FALSE(a.sink->failure()) << a.sink->failure()->message;
  EXPECT_EQ(a.sink->text(), "abcdabcdab");

  const auto chunks = a.sink->chunks();
  ASSERT_FALSE(chunks.empty());
  std::uint32_t previous = 0;
  std::uint32_t tokens = 0;
  for (std::size_t i = 0; i < chunks.size(); ++i) {
    EXPECT_GT(chunks[i].completion_tokens, previous) << "chunk " << i;
    previous = chunks[i].completion_tokens;
    tokens += chunks[i].tokens;
    EXPECT_EQ(chunks[i].prompt_tokens, 4u);
    EXPECT_EQ(chunks[i].finish_reason.has_value(), i + 1 == chunks.size()) << "chunk " << i;
  }
  EXPECT_EQ(chunks.back().finish_reason, "length");
  EXPECT_EQ(chunks.back().completion_tokens, 10u);
  EXPECT_EQ(tokens, 10u);
  EXPECT_EQ(a.sink->mismatched(), 0);

  s.scheduler->stop();
  EXPECT_EQ(a.sink->finish_count(), 1);
  EXPECT_EQ(a.sink->sent_after_finish(), 0);
  EXPECT_EQ(s.generation.generated_tokens.value(), 10u);
  EXPECT_EQ(s.generation.prompt_tokens.value(), 4u);
  EXPECT_EQ(s.generation.running_sequences.value(), 0);
  EXPECT_EQ(s.statistics.inference_count.load(), 1u);
}

TEST(sequence_scheduler, max_tokens_defaults_to_the_model_setting) {
  sequence_scheduler_options options;
  options.default_max_tokens = 6;
  echo_scheduler s(options);
  auto a = s.submit("a", "xyz", 0);
  ASSERT_TRUE(a.sink->wait_finished());
  EXPECT_EQ(a.sink->text(), "xyzxyz");
  EXPECT_EQ(a.sink->finish_reason(), "length");
}

TEST(sequence_scheduler, context_end_finishes_with_length) {
  // 4 prompt tokens in a context of 8 leave room for 4 generated.
  echo_scheduler s({}, 4, 8);
  auto a = s.submit("a", "wxyz", 7);
  ASSERT_TRUE(a.sink->wait_finished());
  EXPECT_FALSE(a.sink->failure());
  EXPECT_EQ(a.sink->text(), "wxyz");
  EXPECT_EQ(a.sink->finish_reason(), "length");
}

TEST(sequence_scheduler, eos_finishes_with_stop_and_no_eos_text) {
  echo_scheduler s;
  s.control->eos_after = 3;
  auto a = s.submit("a", "abcd", 20);
  ASSERT_TRUE(a.sink->wait_finished());
  EXPECT_FALSE(a.sink->failure());
  EXPECT_EQ(a.sink->text(), "abc");
  EXPECT_EQ(a.sink->finish_reason(), "stop");
  EXPECT_EQ(a.sink->chunks().back().completion_tokens, 4u);  // the EOS counts as generated
}

TEST(sequence_scheduler, ignore_eos_runs_to_max_tokens) {
  echo_scheduler s;
  s.control->eos_after = 3;
  auto a = s.submit("a", "abcd", 6, 0, [](inference_request& r) { r.generation->sampling.ignore_eos = true; });
  ASSERT_TRUE(a.sink->wait_finished());
  EXPECT_FALSE(a.sink->failure());
  EXPECT_EQ(a.sink->finish_reason(), "length");
  EXPECT_EQ(a.sink->chunks().back().completion_tokens, 6u);
}

TEST(sequence_scheduler, prompt_from_a_text_input_tensor) {
  // A KServe or gRPC tensor request: the prompt is its BYTES text_input,
  // sampled with the default parameters.
  echo_scheduler s;
  auto sink = std::make_shared<text_sink>("tensor", nullptr);
  auto request = std::make_unique<inference_request>();
  request->model = "echo";
  const std::string prompt = "qrs";
  auto input = make_owned_tensor("text_input", data_type::bytes, {1}, 4 + prompt.size());
  const auto length = static_cast<std::uint32_t>(prompt.size());
  std::memcpy(mutable_data(input), &length, 4);
  std::memcpy(mutable_data(input) + 4, prompt.data(), prompt.size());
  request->inputs.push_back(std::move(input));
  request->sink = sink;
  s.scheduler->schedule(std::move(request));
  ASSERT_TRUE(sink->wait_finished());
  EXPECT_FALSE(sink->failure());
  // max_tokens is the default (128, over the 64-token context): the context ends it.
  EXPECT_EQ(sink->text(), echo_of("qrs", 64 - 3));
  EXPECT_EQ(sink->mismatched(), 0);
}

TEST(sequence_scheduler, invalid_requests_are_answered_at_once) {
  echo_scheduler s(with_running(4));
  auto empty = s.submit("empty", "", 0);
  ASSERT_EQ(empty.sink->finish_count(), 1);
  EXPECT_EQ(empty.sink->failure()->code, error_code::invalid_argument);
  EXPECT_NE(empty.sink->failure()->message.find("prompt"), std::string::npos);

  auto too_long = s.submit("too_long", "abc", 64);
  ASSERT_EQ(too_long.sink->finish_count(), 1);
  EXPECT_EQ(too_long.sink->failure()->code, error_code::invalid_argument);
  EXPECT_NE(too_long.sink->failure()->message.find("63"), std::string::npos) << too_long.sink->failure()->message;

  auto priority = s.submit("priority", "abc", 2, 2);
  ASSERT_EQ(priority.sink->finish_count(), 1);
  EXPECT_EQ(priority.sink->failure()->code, error_code::invalid_argument);
  EXPECT_NE(priority.sink->failure()->message.find("priority"), std::string::npos);

  // A prompt as long as the context is refused when it is tokenized.
  auto prompt = s.submit("long_prompt", std::string(64, 'p'), 1);
  ASSERT_TRUE(prompt.sink->wait_finished());
  EXPECT_EQ(prompt.sink->failure()->code, error_code::invalid_argument);
  EXPECT_NE(prompt.sink->failure()->message.find("context"), std::string::npos);

  // One whose bytes alone cannot fit (over 64 tokens x 64 bytes) is refused
  // as it is submitted, before the tokenizer sees it.
  auto huge = s.submit("huge_prompt", std::string(64 * max_bytes_per_token + 1, 'p'), 1);
  ASSERT_EQ(huge.sink->finish_count(), 1);
  EXPECT_EQ(huge.sink->failure()->code, error_code::invalid_argument);
  EXPECT_EQ(huge.sink->failure()->message,
            "prompt is 4097 bytes; this model's context of 64 tokens holds at most 4096 bytes of text");

  auto fine = s.submit("fine", "abc", 4);
  ASSERT_TRUE(fine.sink->wait_finished());
  EXPECT_EQ(fine.sink->text(), "abca");
}

TEST(sequence_scheduler, cancellation_while_running_retires_within_one_step_and_frees_the_slot) {
  echo_scheduler s(with_running(1));
  s.control->hold();
  auto a = s.submit("a", "abc", 50);
  ASSERT_TRUE(s.control->wait_at_gate(1));
  a.cancellation->cancel();
  s.control->open();

  ASSERT_TRUE(a.sink->wait_finished());
  ASSERT_TRUE(a.sink->failure());
  EXPECT_EQ(a.sink->failure()->code, error_code::cancelled);
  // The step under way when the client left was the last one it took part in.
  ASSERT_TRUE(s.control->wait_for([&] { return s.control->releases.size() == 1; }));
  {
    std::lock_guard lock(s.control->mutex);
    EXPECT_EQ(s.control->step_sizes, (std::vector<std::size_t>{1}));
    EXPECT_EQ(s.control->releases, (std::vector<std::uint32_t>{s.control->prefills.at(0).slot}));
  }
  // The only slot is free again.
  auto b = s.submit("b", "xyz", 4);
  ASSERT_TRUE(b.sink->wait_finished());
  EXPECT_FALSE(b.sink->failure());
  EXPECT_EQ(b.sink->text(), "xyzx");

  s.scheduler->stop();
  EXPECT_EQ(a.sink->finish_count(), 1);
  EXPECT_EQ(s.generation.running_sequences.value(), 0);
}

TEST(sequence_scheduler, cancellation_while_waiting_never_costs_a_prefill) {
  echo_scheduler s(with_running(1));
  s.control->hold();
  auto a = s.submit("a", "abc", 5);
  ASSERT_TRUE(s.control->wait_at_gate(1));
  auto b = s.submit("b", "xyz", 5);
  b.cancellation->cancel();
  s.control->open();

  ASSERT_TRUE(b.sink->wait_finished());
  EXPECT_EQ(b.sink->failure()->code, error_code::cancelled);
  EXPECT_TRUE(b.sink->chunks().empty());
  ASSERT_TRUE(a.sink->wait_finished());
  EXPECT_FALSE(a.sink->failure());
  EXPECT_EQ(a.sink->text(), "abcab");

  s.scheduler->stop();
  std::lock_guard lock(s.control->mutex);
  EXPECT_EQ(s.control->prefills.size(), 1u);
  EXPECT_EQ(b.sink->finish_count(), 1);
}

TEST(sequence_scheduler, deadline_passed_while_waiting) {
  echo_scheduler s;
  // Arrived a second ago with a millisecond to live: expired before admission.
  auto late = s.submit("late", "abc", 5, 0, [](inference_request& r) {
    r.timeout = 1ms;
    r.arrival = clock::now() - 1s;
  });
  ASSERT_TRUE(late.sink->wait_finished());
  EXPECT_EQ(late.sink->failure()->code, error_code::deadline_exceeded);
  EXPECT_TRUE(late.sink->chunks().empty());
  s.scheduler->stop();
  std::lock_guard lock(s.control->mutex);
  EXPECT_TRUE(s.control->prefills.empty());
}

TEST(sequence_scheduler, deadline_passed_while_running) {
  echo_scheduler s;
  s.control->hold();
  const auto arrival = clock::now();
  // Long enough that a loaded machine still reaches the first step before it.
  const auto timeout = 300ms;
  auto a = s.submit("a", "abc", 50, 0, [&](inference_request& r) { r.timeout = timeout; r.arrival = arrival; });
  ASSERT_TRUE(s.control->wait_at_gate(1));
  // The step is held until the deadline is behind us.
  std::this_thread::sleep_until(arrival + timeout + 1ms);
  s.control->open();
  ASSERT_TRUE(a.sink->wait_finished());
  ASSERT_TRUE(a.sink->failure());
  EXPECT_EQ(a.sink->failure()->code, error_code::deadline_exceeded);
  EXPECT_NE(a.sink->failure()->message.find("2 tokens"), std::string::npos) << a.sink->failure()->message;
  ASSERT_TRUE(s.control->wait_for([&] { return s.control->releases.size() == 1; }));
}

TEST(sequence_scheduler, full_queue_answers_unavailable_with_retry_after) {
  sequence_scheduler_options options = with_running(1);
  options.max_queue_size = 1;
  echo_scheduler s(options);
  s.control->hold();
  auto running = s.submit("running", "abc", 3);
  ASSERT_TRUE(s.control->wait_at_gate(1));
  auto waiting = s.submit("waiting", "def", 3);
  auto rejected = s.submit("rejected", "ghi", 3);

  // Answered inside schedule(), before it returned.
  ASSERT_EQ(rejected.sink->finish_count(), 1);
  ASSERT_TRUE(rejected.sink->failure());
  EXPECT_EQ(rejected.sink->failure()->code, error_code::unavailable);
  ASSERT_TRUE(rejected.sink->failure()->retry_after);
  EXPECT_GE(rejected.sink->failure()->retry_after->count(), 1);
  EXPECT_NE(rejected.sink->failure()->message.find("max_queue_size"), std::string::npos);
  EXPECT_EQ(s.generation.waiting_sequences.value(), 1);

  s.control->open();
  ASSERT_TRUE(running.sink->wait_finished());
  ASSERT_TRUE(waiting.sink->wait_finished());
  EXPECT_EQ(running.sink->text(), "abc");
  EXPECT_EQ(waiting.sink->text(), "def");
}

TEST(sequence_scheduler, continuous_batching_admits_while_others_run) {
  echo_scheduler s(with_running(4));
  s.control->hold();
  auto a = s.submit("a", "abc", 8);
  ASSERT_TRUE(s.control->wait_at_gate(1));
  auto b = s.submit("b", "wxyz", 8);
  s.control->allow(1);
  // The next step decodes both: b was admitted while a kept running.
  ASSERT_TRUE(s.control->wait_at_gate(2));
  s.control->open();

  ASSERT_TRUE(a.sink->wait_finished());
  ASSERT_TRUE(b.sink->wait_finished());
  EXPECT_EQ(a.sink->text(), "abcabcab");
  EXPECT_EQ(b.sink->text(), "wxyzwxyz");
  s.scheduler->stop();
  // b's prefill came before a released its slot.
  const auto prefills = s.control->positions_of("prefill");
  const auto releases = s.control->positions_of("release");
  ASSERT_EQ(prefills.size(), 2u);
  ASSERT_EQ(releases.size(), 2u);
  EXPECT_LT(prefills[1], releases[0]);
  EXPECT_NE(s.control->prefills[0].slot, s.control->prefills[1].slot);
  EXPECT_EQ(s.generation.step_sequences.count(), s.control->step_sizes.size());
  EXPECT_GT(s.generation.step_sequences.sum(), static_cast<double>(s.control->step_sizes.size()));
}

TEST(sequence_scheduler, static_batching_waits_for_the_running_group) {
  sequence_scheduler_options options = with_running(4);
  options.policy.static_batching = true;
  echo_scheduler s(options);
  s.control->hold();
  auto a = s.submit("a", "abc", 5);
  ASSERT_TRUE(s.control->wait_at_gate(1));
  auto b = s.submit("b", "wxyz", 5);
  s.control->open();

  ASSERT_TRUE(a.sink->wait_finished());
  ASSERT_TRUE(b.sink->wait_finished());
  EXPECT_EQ(a.sink->text(), "abcab");
  EXPECT_EQ(b.sink->text(), "wxyzw");
  s.scheduler->stop();
  // b was prefilled only after a finished and gave back its slot.
  const auto prefills = s.control->positions_of("prefill");
  const auto releases = s.control->positions_of("release");
  ASSERT_EQ(prefills.size(), 2u);
  ASSERT_EQ(releases.size(), 2u);
  EXPECT_GT(prefills[1], releases[0]);
  std::lock_guard lock(s.control->mutex);
  for (auto size : s.control->step_sizes) EXPECT_EQ(size, 1u);
}

TEST(sequence_scheduler, higher_priority_preempts_and_the_paused_sequence_resumes_unchanged) {
  sequence_scheduler_options options = with_running(1);
  options.priority_levels = 2;
  echo_scheduler s(options);
  s.control->hold();
  auto low = s.submit("low", "lmnopq", 20, 2);
  ASSERT_TRUE(s.control->wait_at_gate(1));
  auto high = s.submit("high", "HIJ", 5, 1);
  s.control->open();

  ASSERT_TRUE(high.sink->wait_finished());
  ASSERT_TRUE(low.sink->wait_finished());
  EXPECT_FALSE(high.sink->failure());
  EXPECT_FALSE(low.sink->failure());
  EXPECT_EQ(s.finished_in_order(), (std::vector<std::string>{"high", "low"}));
  EXPECT_EQ(high.sink->text(), "HIJHI");
  EXPECT_EQ(low.sink->text(), echo_of("lmnopq", 20));
  EXPECT_EQ(low.sink->chunks().back().completion_tokens, 20u);
  EXPECT_EQ(low.sink->finish_reason(), "length");
  EXPECT_EQ(s.generation.preemptions.value(), 1u);

  {
    std::lock_guard lock(s.control->mutex);
    // low's prompt; high's prompt; low again: its prompt and the two tokens it
    // had generated, but the last, which the next step feeds.
    ASSERT_EQ(s.control->prefills.size(), 3u);
    EXPECT_EQ(s.control->prefills[0].tokens, 6u);
    EXPECT_EQ(s.control->prefills[1].tokens, 3u);
    EXPECT_EQ(s.control->prefills[2].tokens, 6u + 2u - 1u);
    // Its slot was released when it was paused, before high's prefill.
    EXPECT_EQ(s.control->events.at(2), "release " + std::to_string(s.control->prefills[0].slot));
  }

  // The same request again, alone: the text preemption left must be this one.
  auto alone = s.submit("alone", "lmnopq", 20, 2);
  ASSERT_TRUE(alone.sink->wait_finished());
  EXPECT_EQ(low.sink->text(), alone.sink->text());

  s.scheduler->stop();
  EXPECT_EQ(s.generation.running_sequences.value(), 0);
  EXPECT_EQ(s.generation.waiting_sequences.value(), 0);
  EXPECT_EQ(high.sink->finish_count(), 1);
  EXPECT_EQ(low.sink->finish_count(), 1);
}

TEST(sequence_scheduler, equal_priority_does_not_preempt) {
  sequence_scheduler_options options = with_running(1);
  options.priority_levels = 2;
  echo_scheduler s(options);
  s.control->hold();
  auto first = s.submit("first", "abc", 6, 2);
  ASSERT_TRUE(s.control->wait_at_gate(1));
  auto second = s.submit("second", "xyz", 3, 2);
  s.control->open();
  ASSERT_TRUE(first.sink->wait_finished());
  ASSERT_TRUE(second.sink->wait_finished());
  EXPECT_EQ(s.finished_in_order(), (std::vector<std::string>{"first", "second"}));
  EXPECT_EQ(s.generation.preemptions.value(), 0u);
}

TEST(sequence_scheduler, failing_step_fails_its_sequences_and_the_scheduler_keeps_serving) {
  echo_scheduler s(with_running(4));
  s.control->hold();
  s.control->fail_step_of_size = 2;
  auto a = s.submit("a", "abc", 20);
  ASSERT_TRUE(s.control->wait_at_gate(1));
  auto b = s.submit("b", "xyz", 20);
  s.control->open();

  ASSERT_TRUE(a.sink->wait_finished());
  ASSERT_TRUE(b.sink->wait_finished());
  for (auto* sink : {a.sink.get(), b.sink.get()}) {
    ASSERT_TRUE(sink->failure());
    EXPECT_EQ(sink->failure()->code, error_code::internal);
    EXPECT_NE(sink->failure()->message.find("injected failure"), std::string::npos);
  }
  ASSERT_TRUE(s.control->wait_for([&] { return s.control->releases.size() == 2; }));

  auto c = s.submit("c", "def", 4);
  ASSERT_TRUE(c.sink->wait_finished());
  EXPECT_FALSE(c.sink->failure());
  EXPECT_EQ(c.sink->text(), "defd");

  s.scheduler->stop();
  EXPECT_EQ(s.generation.running_sequences.value(), 0);
  EXPECT_EQ(a.sink->finish_count(), 1);
  EXPECT_EQ(b.sink->finish_count(), 1);
}

TEST(sequence_scheduler, stop_answers_every_running_and_waiting_sequence) {
  // A context long enough that the running sequence cannot finish on its own
  // before stop() is seen.
  echo_scheduler s(with_running(1), 1, 1 << 16);
  s.control->hold();
  auto running = s.submit("running", "abc", 60000);
  ASSERT_TRUE(s.control->wait_at_gate(1));
  auto waiting1 = s.submit("waiting1", "def", 3);
  auto waiting2 = s.submit("waiting2", "ghi", 3);

  std::thread stopper([&] { s.scheduler->stop(); });
  s.control->open();
  stopper.join();

  for (auto* sink : {running.sink.get(), waiting1.sink.get(), waiting2.sink.get()}) {
    EXPECT_EQ(sink->finish_count(), 1);
    ASSERT_TRUE(sink->failure());
    EXPECT_EQ(sink->failure()->code, error_code::not_ready);
    EXPECT_NE(sink->failure()->message.find("stopping"), std::string::npos);
  }
  EXPECT_TRUE(waiting1.sink->chunks().empty());
  EXPECT_EQ(s.generation.running_sequences.value(), 0);
  EXPECT_EQ(s.generation.waiting_sequences.value(), 0);
  {
    std::lock_guard lock(s.control->mutex);
    EXPECT_EQ(s.control->prefills.size(), 1u);
    EXPECT_EQ(s.control->releases.size(), 1u);
  }

  // After stop, a new request is answered at once.
  auto late = s.submit("late", "jkl", 3);
  ASSERT_EQ(late.sink->finish_count(), 1);
  EXPECT_EQ(late.sink->failure()->code, error_code::not_ready);
}

// Waits (without polling) for a drain's callback.
struct drained_flag {
  std::mutex mutex;
  std::condition_variable changed;
  int calls{0};
  std::function<void()> callback() {
    return [this] {
      // Notified under the lock: the waiter may destroy this flag as soon as it wakes.
      std::lock_guard lock(mutex);
      ++calls;
      changed.notify_all();
    };
  }
  bool wait() {
    std::unique_lock lock(mutex);
    return changed.wait_for(lock, wait_limit, [this] { return calls > 0; });
  }
  int count() {
    std::lock_guard lock(mutex);
    return calls;
  }
};

TEST(sequence_scheduler, drain_finishes_running_and_waiting_sequences_and_refuses_new_ones) {
  echo_scheduler s(with_running(1), 1);
  s.control->hold();
  auto running = s.submit("running", "abc", 4);
  ASSERT_TRUE(s.control->wait_at_gate(1));
  auto waiting = s.submit("waiting", "def", 3);

  drained_flag drained;
  s.scheduler->drain(clock::now() + std::chrono::hours(1), drained.callback());
  auto late = s.submit("late", "ghi", 3);
  ASSERT_EQ(late.sink->finish_count(), 1);
  EXPECT_EQ(late.sink->failure()->code, error_code::not_ready);
  EXPECT_EQ(drained.count(), 0);  // two sequences are still unanswered

  s.control->open();
  ASSERT_TRUE(drained.wait());
  EXPECT_EQ(drained.count(), 1);
  for (auto* sink : {running.sink.get(), waiting.sink.get()}) {
    EXPECT_EQ(sink->finish_count(), 1);
    EXPECT_FALSE(sink->failure()) << sink->failure()->message;
  }
  EXPECT_EQ(running.sink->text(), "abca");
  EXPECT_EQ(waiting.sink->text(), "def");
  s.scheduler->join();
  EXPECT_EQ(s.generation.running_sequences.value(), 0);
}

TEST(sequence_scheduler, drain_past_its_deadline_answers_what_is_left_not_ready) {
  echo_scheduler s(with_running(1), 1, 1 << 16);
  s.control->hold();
  auto running = s.submit("running", "abc", 60000);
  ASSERT_TRUE(s.control->wait_at_gate(1));
  auto waiting = s.submit("waiting", "def", 3);

  drained_flag drained;
  s.scheduler->drain(clock::now(), drained.callback());
  s.control->open();
  ASSERT_TRUE(drained.wait());
  for (auto* sink : {running.sink.get(), waiting.sink.get()}) {
    EXPECT_EQ(sink->finish_count(), 1);
    ASSERT_TRUE(sink->failure());
    EXPECT_EQ(sink->failure()->code, error_code::not_ready);
  }
  s.scheduler->join();
}

TEST(sequence_scheduler, drain_with_nothing_admitted_reports_at_once) {
  echo_scheduler s;
  drained_flag drained;
  s.scheduler->drain(clock::now() + std::chrono::hours(1), drained.callback());
  EXPECT_EQ(drained.count(), 1);
  s.scheduler->join();
}

}  // namespace
}  // namespace surge
