#include "generation/sequence_scheduler.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>

#include "core/generation.hpp"
#include "generation/incremental_detokenizer.hpp"
#include "generation/sampler.hpp"
#include "generation/text_emitter.hpp"
#include "generation/text_tensors.hpp"

namespace surge {

struct sequence_scheduler::sequence {
  request_ptr request;
  generation_options options;
  std::uint32_t level{1};
  std::uint64_t order{0};
  std::uint32_t max_tokens{0};
  std::vector<std::int32_t> tokens;  // prompt, then generated
  std::size_t prompt_tokens{0};
  std::uint32_t generated{0};
  std::uint32_t cached{0};  // tokens whose keys and values are in the slot
  std::optional<std::uint32_t> slot;
  bool admitted_once{false};
  std::uint32_t pending_tokens{0};  // generated but not yet sent (text held back)
  std::mt19937_64 rng;
  text_emitter emitter;
  std::optional<incremental_detokenizer> text;  // from admission on
  clock::time_point last_token_at{};
};

namespace {

}  // namespace

sequence_scheduler::sequence_scheduler(std::string name, sequence_scheduler_options options,
                                       std::shared_ptr<generation_model> model,
                                       std::vector<std::unique_ptr<generation_engine>> engines,
                                       model_metrics& metrics, generation_metrics& generation,
                                       model_statistics& statistics)
    : name_(std::move(name)),
      options_(options),
      model_(std::move(model)),
      engines_(std::move(engines)),
      metrics_(metrics),
      generation_(generation),
      statistics_(statistics),
      waiting_(std::max<std::uint32_t>(1, options.priority_levels)) {
  const auto& limits = model_->limits();
  max_context_ = limits.max_context;
  if (options_.policy.max_running == 0 || options_.policy.max_running > limits.max_sequences) {
    options_.policy.max_running = limits.max_sequences;
  }
  if (options_.max_tokens_limit == 0 || options_.max_tokens_limit > limits.max_context - 1) {
    options_.max_tokens_limit = limits.max_context - 1;
  }
  options_.default_max_tokens = std::min(options_.default_max_tokens, options_.max_tokens_limit);
  options_.priority_levels = static_cast<std::uint32_t>(waiting_.size());
  if (options_.default_priority_level == 0 || options_.default_priority_level > options_.priority_levels) {
    options_.default_priority_level = options_.priority_levels;
  }
  metrics_.instances.set(static_cast<std::int64_t>(engines_.size()));
  threads_.reserve(engines_.size());
  for (std::size_t i = 0; i < engines_.size(); ++i) threads_.emplace_back([this, i] { run(i); });
}

sequence_scheduler::~sequence_scheduler() { join(); }

void sequence_scheduler::drain(clock::time_point deadline, std::function<void()> drained) {
  std::function<void()> now_drained;
  {
    std::lock_guard lock(mutex_);
    draining_ = true;
    drain_deadline_ = deadline;
    if (unfinished_ == 0) now_drained = std::move(drained);
    else drained_ = std::move(drained);
  }
  wake_.notify_all();  // a passed deadline is acted on at once
  if (now_drained) now_drained();
}

void sequence_scheduler::join() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  for (auto& thread : threads_) {
    if (thread.joinable()) thread.join();
  }
  threads_.clear();
  // The backend's instances and model go with the threads that used them;
  // schedule() only refuses from now on and touches neither.
  engines_.clear();
  model_.reset();
}

std::chrono::seconds sequence_scheduler::retry_after() const {
  // Time for the running batch to turn over enough to reach the back of the queue.
  const double rounds = static_cast<double>(options_.max_queue_size) / std::max<std::uint32_t>(1, options_.policy.max_running);
  const double seconds = std::ceil(rounds * mean_sequence_seconds_.load(std::memory_order_relaxed));
  return std::chrono::seconds(std::clamp<std::int64_t>(static_cast<std::int64_t>(seconds), 1, 60));
}

void sequence_scheduler::schedule(request_ptr request) {
  auto s = std::make_unique<sequence>();
  if (request->generation) {
    s->options = std::move(*request->generation);
    request->generation.reset();
  } else {
    auto prompt = prompt_from_tensor(*request);
    if (auto* failure = std::get_if<error>(&prompt)) {
      request->sink->finish(std::move(*failure));
      return;
    }
    s->options.prompt = std::get<std::string>(std::move(prompt));
  }
  if (auto invalid = admit_request(*request, *s)) {
    request->sink->finish(std::move(invalid));
    return;
  }
  s->request = std::move(request);
  {
    std::unique_lock lock(mutex_);
    if (stopping_ || draining_) {
      lock.unlock();
      s->request->sink->finish(make_error(error_code::not_ready, "model '" + name_ + "' is stopping"));
      return;
    }
    if (waiting_count_ >= options_.max_queue_size) {
      lock.unlock();
      auto full = make_error(error_code::unavailable, "model '" + name_ + "': " +
                                                          std::to_string(options_.max_queue_size) +
                                                          " sequences are already waiting (max_queue_size)");
      full.retry_after = retry_after();
      s->request->sink->finish(std::move(full));
      return;
    }
    s->order = next_order_++;
    waiting_[s->level - 1].push_back(std::move(s));
    ++waiting_count_;
    ++unfinished_;
    generation_.waiting_sequences.set(static_cast<std::int64_t>(waiting_count_));
  }
  wake_.notify_one();
}

// Checks what can be checked without the tokenizer; the prompt's length is
// checked at admission, on the instance thread.
std::optional<error> sequence_scheduler::admit_request(inference_request& request, sequence& s) const {
  const auto invalid = [](std::string message) { return make_error(error_code::invalid_argument, std::move(message)); };
  auto& sampling = s.options.sampling;
  if (s.options.prompt.empty()) return invalid("prompt is empty");
  const auto context = max_context_;
  if (s.options.prompt.size() > max_prompt_bytes(context)) {
    return invalid("prompt is " + std::to_string(s.options.prompt.size()) + " bytes; this model's context of " +
                   std::to_string(context) + " tokens holds at most " + std::to_string(max_prompt_bytes(context)) +
                   " bytes of text");
  }
  if (sampling.max_tokens > options_.max_tokens_limit) {
    return invalid("max_tokens " + std::to_string(sampling.max_tokens) + " exceeds this model's limit of " +
                   std::to_string(options_.max_tokens_limit));
  }
  if (!(sampling.temperature >= 0.0f) || sampling.temperature > 100.0f) {
    return invalid("temperature must be between 0 and 100");
  }
  if (!(sampling.top_p > 0.0f) || sampling.top_p > 1.0f) return invalid("top_p must be in (0, 1]");
  if (request.priority > options_.priority_levels) {
    return invalid("priority " + std::to_string(request.priority) + " is outside 1.." +
                   std::to_string(options_.priority_levels) + " (priority_levels)");
  }
  s.level = request.priority == 0 ? options_.default_priority_level : request.priority;
  s.max_tokens = sampling.max_tokens == 0 ? options_.default_max_tokens : sampling.max_tokens;
  s.rng.seed(sampling.seed ? *sampling.seed : std::random_device{}());
  s.emitter = text_emitter(sampling.stop);
  if (request.timeout && request.timeout->count() > 0) request.deadline = request.arrival + *request.timeout;
  return std::nullopt;
}

void sequence_scheduler::finish(sequence& s, std::optional<error> failure) {
  if (!failure) {
    const double seconds = std::chrono::duration<double>(clock::now() - s.request->arrival).count();
    const double mean = mean_sequence_seconds_.load(std::memory_order_relaxed);
    mean_sequence_seconds_.store(mean * 0.9 + seconds * 0.1, std::memory_order_relaxed);
    statistics_.inference_count.fetch_add(1, std::memory_order_relaxed);
  }
  s.request->sink->finish(std::move(failure));
  std::function<void()> drained;
  {
    std::lock_guard lock(mutex_);
    if (--unfinished_ == 0 && drained_) drained = std::move(drained_);
  }
  if (drained) drained();
}

// A token was sampled: turn it into text, decide whether the sequence ends,
// and send what may be sent. True when the sequence was answered and ended.
bool sequence_scheduler::emit(sequence& s, std::int32_t token, clock::time_point now) {
  const auto& limits = model_->limits();
  if (s.generated == 0) {
    generation_.time_to_first_token.observe(std::chrono::duration<double>(now - s.request->arrival).count());
  } else {
    generation_.inter_token_latency.observe(std::chrono::duration<double>(now - s.last_token_at).count());
  }
  s.last_token_at = now;
  ++s.generated;
  ++s.pending_tokens;
  generation_.generated_tokens.increment();

  std::optional<std::string> finish_reason;
  const bool eos = limits.eos_token && token == *limits.eos_token && !s.options.sampling.ignore_eos;
  if (eos) {
    finish_reason = "stop";
  } else {
    s.tokens.push_back(token);
    if (s.generated >= s.max_tokens || s.tokens.size() >= limits.max_context) finish_reason = "length";
  }

  // Only the tokens since the last settled character are decoded, behind
  // the prompt's last token at first, so the first word keeps its space.
  if (auto failure = s.text->advance(*model_, s.tokens, finish_reason.has_value())) {
    failure->message = "detokenize: " + failure->message;
    finish(s, std::move(*failure));
    return true;
  }
  const auto text = s.text->text();

  auto piece = s.emitter.advance(text);
  if (piece.stopped) finish_reason = "stop";
  else if (finish_reason) piece.text += s.emitter.flush(text);

  if (!piece.text.empty() || finish_reason) {
    inference_response response;
    generation_chunk chunk;
    chunk.text = std::move(piece.text);
    chunk.tokens = s.pending_tokens;
    chunk.finish_reason = finish_reason;
    chunk.prompt_tokens = static_cast<std::uint32_t>(s.prompt_tokens);
    chunk.completion_tokens = s.generated;
    response.outputs.push_back(text_tensor(chunk.text));
    response.generation = std::move(chunk);
    s.pending_tokens = 0;
    s.request->sink->send(std::move(response));
  }
  if (finish_reason) finish(s, std::nullopt);
  return finish_reason.has_value();
}

void sequence_scheduler::run(std::size_t engine_index) {
  auto& engine = *engines_[engine_index];
  const auto& limits = model_->limits();
  const std::uint32_t slots = options_.policy.max_running;
  std::vector<std::uint32_t> free_slots;
  for (std::uint32_t i = slots; i > 0; --i) free_slots.push_back(i - 1);

  std::vector<sequence_ptr> running;
  std::vector<float> logits;
  std::vector<std::uint32_t> step_slots;
  std::vector<std::int32_t> step_tokens;
  std::vector<std::uint32_t> step_positions;
  std::vector<sequence*> stepped;
  sampler sample;

  const auto release = [&](sequence& s) {
    if (s.slot) {
      engine.release(*s.slot);
      free_slots.push_back(*s.slot);
      s.slot.reset();
    }
  };

  for (;;) {
    std::vector<sequence_ptr> admitted;
    std::vector<sequence_ptr> dropped;  // cancelled or expired while waiting; answered outside the lock
    bool stopping = false;
    {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [&] { return stopping_ || waiting_count_ > 0 || !running.empty(); });
      const auto now = clock::now();
      // A drain whose deadline passed answers what is left, as stopping does.
      stopping = stopping_ || (draining_ && drain_deadline_ <= now);
      for (auto& level : waiting_) {
        for (auto it = level.begin(); it != level.end();) {
          auto& req = *(*it)->request;
          if (stopping || req.cancellation->cancelled() || (req.deadline && *req.deadline <= now)) {
            dropped.push_back(std::move(*it));
            it = level.erase(it);
            --waiting_count_;
          } else {
            ++it;
          }
        }
      }
      if (!stopping) {
        std::vector<waiting_sequence> waiting_view;
        std::vector<sequence*> waiting_refs;
        for (auto& level : waiting_) {
          for (auto& s : level) {
            const auto prefill = s->tokens.empty() ? static_cast<std::uint32_t>(s->options.prompt.size() / 3 + 1)
                                                   : static_cast<std::uint32_t>(s->tokens.size() - 1);
            waiting_view.push_back({s->level, s->order, prefill});
            waiting_refs.push_back(s.get());
          }
        }
        std::vector<running_sequence> running_view;
        for (auto& s : running) running_view.push_back({s->level, s->order});
        const auto plan = plan_step(options_.policy, waiting_view, running_view);

        for (auto r : plan.preempt) {
          auto& victim = running[r];
          release(*victim);
          victim->cached = 0;
          generation_.preemptions.increment();
          generation_.running_sequences.add(-1);  // counted again when it resumes
          auto& queue = waiting_[victim->level - 1];
          // Back in arrival order within its level.
          auto at = std::find_if(queue.begin(), queue.end(), [&](const sequence_ptr& w) { return w->order > victim->order; });
          queue.insert(at, std::move(victim));
          ++waiting_count_;
        }
        std::erase(running, nullptr);
        for (auto w : plan.admit) {
          auto* target = waiting_refs[w];
          auto& queue = waiting_[target->level - 1];
          auto it = std::find_if(queue.begin(), queue.end(), [&](const sequence_ptr& q) { return q.get() == target; });
          admitted.push_back(std::move(*it));
          queue.erase(it);
          --waiting_count_;
        }
      }
      generation_.waiting_sequences.set(static_cast<std::int64_t>(waiting_count_));
    }

    const auto now = clock::now();
    for (auto& s : dropped) {
      auto& req = *s->request;
      if (stopping) finish(*s, make_error(error_code::not_ready, "model '" + name_ + "' is stopping"));
      else if (req.cancellation->cancelled()) finish(*s, make_error(error_code::cancelled, "the client went away"));
      else finish(*s, make_error(error_code::deadline_exceeded, "the request's timeout passed while it waited"));
    }
    if (stopping) {
      for (auto& s : running) {
        release(*s);
        finish(*s, make_error(error_code::not_ready, "model '" + name_ + "' is stopping"));
      }
      generation_.running_sequences.add(-static_cast<std::int64_t>(running.size()));
      return;
    }

    // Retire running sequences whose client left or whose time is up: at most
    // one step after the cancellation.
    for (auto& s : running) {
      auto& req = *s->request;
      const bool cancelled = req.cancellation->cancelled();
      if (!cancelled && !(req.deadline && *req.deadline <= now)) continue;
      release(*s);
      finish(*s, cancelled ? make_error(error_code::cancelled, "the client went away")
                           : make_error(error_code::deadline_exceeded,
                                        "the request's timeout passed after " + std::to_string(s->generated) + " tokens"));
      s.reset();
      generation_.running_sequences.add(-1);
    }
    std::erase(running, nullptr);

    // Prefill what was admitted; a fresh sequence samples its first token here.
    logits.resize(limits.vocab_size);
    for (auto& s : admitted) {
      if (!s->admitted_once) {
        auto tokens = model_->tokenize(s->options.prompt);
        if (auto* failure = std::get_if<error>(&tokens)) {
          failure->message = "tokenize: " + failure->message;
          finish(*s, std::move(*failure));
          continue;
        }
        s->tokens = std::get<std::vector<std::int32_t>>(std::move(tokens));
        s->prompt_tokens = s->tokens.size();
        if (s->tokens.empty()) {
          finish(*s, make_error(error_code::invalid_argument, "prompt has no tokens"));
          continue;
        }
        const auto asked = s->options.sampling.max_tokens;
        if (s->options.refuse_beyond_context && asked > 0 && s->tokens.size() + asked > limits.max_context) {
          finish(*s, make_error(error_code::invalid_argument,
                                "This model's maximum context length is " + std::to_string(limits.max_context) +
                                    " tokens. However, you requested " + std::to_string(s->tokens.size() + asked) +
                                    " tokens (" + std::to_string(s->tokens.size()) + " in the prompt, " +
                                    std::to_string(asked) +
                                    " for the completion). Please reduce the prompt or max_tokens."));
          continue;
        }
        if (s->tokens.size() >= limits.max_context) {
          finish(*s, make_error(error_code::invalid_argument,
                                "prompt is " + std::to_string(s->tokens.size()) + " tokens; this model's context is " +
                                    std::to_string(limits.max_context) + " tokens including the reply"));
          continue;
        }
        s->text.emplace(s->prompt_tokens - 1, s->prompt_tokens);
        generation_.prompt_tokens.increment(s->prompt_tokens);
        metrics_.queue_duration.observe(std::chrono::duration<double>(now - s->request->arrival).count());
        statistics_.queue.add(std::chrono::duration_cast<std::chrono::nanoseconds>(now - s->request->arrival));
      }
      s->slot = free_slots.back();
      free_slots.pop_back();
      // A resumed sequence prefills everything but its last token, which the
      // next step feeds; a fresh one prefills its prompt and samples.
      const bool resumed = s->admitted_once;
      const auto count = resumed ? s->tokens.size() - 1 : s->tokens.size();
      const auto started = clock::now();
      if (auto failure = engine.prefill(*s->slot, std::span<const std::int32_t>(s->tokens.data(), count), logits)) {
        release(*s);
        finish(*s, std::move(failure));
        continue;
      }
      statistics_.compute_infer.add(std::chrono::duration_cast<std::chrono::nanoseconds>(clock::now() - started));
      s->cached = static_cast<std::uint32_t>(count);
      s->admitted_once = true;
      generation_.running_sequences.add(1);
      if (!resumed) {
        if (emit(*s, sample.sample(logits, s->options.sampling, s->rng), clock::now())) {
          release(*s);
          generation_.running_sequences.add(-1);
          continue;
        }
      }
      running.push_back(std::move(s));
    }

    // One token for every running sequence, in one backend call.
    step_slots.clear();
    step_tokens.clear();
    step_positions.clear();
    stepped.clear();
    for (auto& s : running) {
      step_slots.push_back(*s->slot);
      step_tokens.push_back(s->tokens[s->cached]);
      step_positions.push_back(s->cached);
      stepped.push_back(s.get());
    }
    if (stepped.empty()) continue;
    logits.resize(stepped.size() * limits.vocab_size);
    const auto started = clock::now();
    auto failure = engine.step(step_slots, step_tokens, step_positions, logits);
    const auto ended_at = clock::now();
    statistics_.execution_count.fetch_add(1, std::memory_order_relaxed);
    statistics_.compute_infer.add(std::chrono::duration_cast<std::chrono::nanoseconds>(ended_at - started));
    metrics_.compute_duration.observe(std::chrono::duration<double>(ended_at - started).count());
    generation_.step_sequences.observe(static_cast<double>(stepped.size()));
    if (failure) {
      for (auto& s : running) {
        release(*s);
        finish(*s, failure);
      }
      generation_.running_sequences.add(-static_cast<std::int64_t>(running.size()));
      running.clear();
      continue;
    }
    for (std::size_t i = 0; i < stepped.size(); ++i) {
      auto& s = running[i];
      ++s->cached;
      const std::span<const float> row(logits.data() + i * limits.vocab_size, limits.vocab_size);
      if (emit(*s, sample.sample(row, s->options.sampling, s->rng), ended_at)) {
        release(*s);
        s.reset();
        generation_.running_sequences.add(-1);
      }
    }
    std::erase(running, nullptr);
  }
}

}  // namespace surge
