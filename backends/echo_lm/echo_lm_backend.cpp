// Test backend for generation: a "language model" whose next token is known
// in advance, so scheduler and server tests of streaming, stopping,
// cancellation and priorities are deterministic instead of hopeful.
//
// Tokens are bytes (0..255), then EOS (256) and BOS (257). The next token is
// the one that followed the last token's first occurrence, wrapping to the
// first byte after BOS, so a prompt of distinct characters repeats itself:
// "abc" generates "abcabc...". The rule depends only on the tokens, so a
// sequence preempted and prefilled again continues the same text. Logits put
// `confidence` on that token and 0 elsewhere: greedy decoding always follows
// the pattern and sampling mostly does.
//
// config.pbtxt parameters (all optional, string values):
//   kv_slots            slots per instance (default 8)
//   max_context         tokens per sequence, prompt included (default 512)
//   step_delay_us       sleep this long in every step (default 0)
//   prefill_delay_us    sleep this long in every prefill (default 0)
//   eos_after_tokens    predict EOS once this many tokens follow the first
//                       repeated byte (for distinct-byte prompts: once this
//                       many were generated); 0: never
#include <surge/backend_helpers.hpp>

#include <chrono>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace sdk = surge::backend_sdk;

namespace {
constexpr std::int32_t eos_token = 256;
constexpr std::int32_t bos_token = 257;
constexpr std::uint32_t vocab_size = 258;
constexpr float confidence = 10.0f;
}  // namespace

struct surge_model {
  std::string name;
  std::uint32_t kv_slots{8};
  std::uint32_t max_context{512};
  std::chrono::microseconds step_delay{0};
  std::chrono::microseconds prefill_delay{0};
  std::uint32_t eos_after_tokens{0};
};

struct surge_instance {
  struct slot {
    std::vector<std::int32_t> tokens;  // the "KV cache": every token fed so far
  };
  surge_model* model;
  std::vector<slot> slots;
};

namespace {

void predict(const surge_model& model, const surge_instance::slot& s, float* logits) {
  std::fill(logits, logits + vocab_size, 0.0f);
  const auto& t = s.tokens;
  const std::size_t first = !t.empty() && t[0] == bos_token ? 1 : 0;
  if (t.size() <= first) {
    logits[eos_token] = confidence;
    return;
  }
  // Where the text starts repeating: the first byte seen before.
  std::size_t distinct = t.size();
  for (std::size_t i = first + 1; i < t.size() && distinct == t.size(); ++i) {
    for (std::size_t j = first; j < i; ++j) {
      if (t[j] == t[i]) {
        distinct = i;
        break;
      }
    }
  }
  if (model.eos_after_tokens != 0 && t.size() - distinct >= model.eos_after_tokens) {
    logits[eos_token] = confidence;
    return;
  }
  std::size_t at = first;
  while (t[at] != t.back()) ++at;
  const std::size_t next = at + 1 < t.size() ? at + 1 : first;
  logits[t[next]] = confidence;
}

surge_instance::slot& slot_of(surge_instance& instance, std::uint32_t slot) {
  if (slot >= instance.slots.size()) {
    sdk::fail(SURGE_ERROR_INVALID_ARGUMENT,
              "slot " + std::to_string(slot) + " is outside 0.." + std::to_string(instance.slots.size() - 1));
  }
  return instance.slots[slot];
}

void check_token(std::int32_t token) {
  if (token < 0 || token >= static_cast<std::int32_t>(vocab_size)) {
    sdk::fail(SURGE_ERROR_INVALID_ARGUMENT, "token " + std::to_string(token) + " is outside the vocabulary");
  }
}

}  // namespace

SURGE_BACKEND_DEFINE_COMMON_EXPORTS();

extern "C" SURGE_BACKEND_EXPORT surge_error* surge_model_create(surge_model_info* info, surge_model** out) {
  *out = nullptr;
  return sdk::guard([&] {
    auto model = std::make_unique<surge_model>();
    model->name = surge_model_info_name(info);
    const sdk::parameter_map parameters(info);
    parameters.reject_unknown({"kv_slots", "max_context", "step_delay_us", "prefill_delay_us", "eos_after_tokens"});
    const auto positive = [&](const char* key, auto& field) {
      if (auto value = parameters.get_int(key)) {
        if (*value < 1) sdk::fail(SURGE_ERROR_UNSUPPORTED, std::string("parameter '") + key + "' must be >= 1");
        field = static_cast<std::remove_reference_t<decltype(field)>>(*value);
      }
    };
    positive("kv_slots", model->kv_slots);
    positive("max_context", model->max_context);
    if (auto value = parameters.get_int("step_delay_us")) model->step_delay = std::chrono::microseconds(std::max<std::int64_t>(0, *value));
    if (auto value = parameters.get_int("prefill_delay_us")) model->prefill_delay = std::chrono::microseconds(std::max<std::int64_t>(0, *value));
    if (auto value = parameters.get_int("eos_after_tokens")) model->eos_after_tokens = static_cast<std::uint32_t>(std::max<std::int64_t>(0, *value));
    *out = model.release();
  });
}

extern "C" SURGE_BACKEND_EXPORT void surge_model_delete(surge_model* model) { delete model; }

extern "C" SURGE_BACKEND_EXPORT surge_error* surge_instance_create(surge_model* model, uint32_t index,
                                                                   surge_instance** out) {
  *out = nullptr;
  return sdk::guard([&] {
    auto instance = std::make_unique<surge_instance>();
    instance->model = model;
    instance->slots.resize(model->kv_slots);
    *out = instance.release();
  });
}

extern "C" SURGE_BACKEND_EXPORT void surge_instance_delete(surge_instance* instance) { delete instance; }

extern "C" SURGE_BACKEND_EXPORT surge_error* surge_instance_execute(surge_instance*, surge_request**, uint32_t) {
  return surge_error_new(SURGE_ERROR_UNSUPPORTED, "generative model: use the sequence API");
}

extern "C" SURGE_BACKEND_EXPORT surge_error* surge_generation_info_get(surge_model* model,
                                                                       surge_generation_info* info) {
  return sdk::guard([&] {
    sdk::set_generation(info, SURGE_GENERATION_MAX_SEQUENCES, model->kv_slots);
    sdk::set_generation(info, SURGE_GENERATION_MAX_CONTEXT, model->max_context);
    sdk::set_generation(info, SURGE_GENERATION_VOCAB_SIZE, vocab_size);
    sdk::set_generation(info, SURGE_GENERATION_EOS_TOKEN, eos_token);
    sdk::set_generation(info, SURGE_GENERATION_BOS_TOKEN, bos_token);
  });
}

extern "C" SURGE_BACKEND_EXPORT surge_error* surge_generation_tokenize(surge_model*, const char* text,
                                                                       uint64_t length, int32_t* tokens,
                                                                       uint32_t capacity, uint32_t* count) {
  *count = static_cast<std::uint32_t>(length + 1);
  if (*count > capacity) return nullptr;
  tokens[0] = bos_token;
  for (std::uint64_t i = 0; i < length; ++i) tokens[i + 1] = static_cast<unsigned char>(text[i]);
  return nullptr;
}

extern "C" SURGE_BACKEND_EXPORT surge_error* surge_generation_detokenize(surge_model*, const int32_t* tokens,
                                                                         uint32_t count, char* text,
                                                                         uint64_t capacity, uint64_t* length) {
  std::uint64_t n = 0;
  for (std::uint32_t i = 0; i < count; ++i) {
    if (tokens[i] >= 0 && tokens[i] < 256) {
      if (n < capacity) text[n] = static_cast<char>(tokens[i]);
      ++n;
    }
  }
  *length = n;
  return nullptr;
}

extern "C" SURGE_BACKEND_EXPORT surge_error* surge_sequence_prefill(surge_instance* instance, uint32_t slot,
                                                                    const int32_t* tokens, uint32_t count,
                                                                    float* logits) {
  return sdk::guard([&] {
    auto& s = slot_of(*instance, slot);
    if (count == 0 || count > instance->model->max_context) {
      sdk::fail(SURGE_ERROR_INVALID_ARGUMENT, "prefill of " + std::to_string(count) + " tokens; the context is " +
                                                  std::to_string(instance->model->max_context));
    }
    for (std::uint32_t i = 0; i < count; ++i) check_token(tokens[i]);
    if (instance->model->prefill_delay.count() > 0) std::this_thread::sleep_for(instance->model->prefill_delay);
    s.tokens.assign(tokens, tokens + count);
    predict(*instance->model, s, logits);
  });
}

extern "C" SURGE_BACKEND_EXPORT surge_error* surge_sequence_step(surge_instance* instance, const uint32_t* slots,
                                                                 const int32_t* tokens, const uint32_t* positions,
                                                                 uint32_t count, float* logits) {
  return sdk::guard([&] {
    if (instance->model->step_delay.count() > 0) std::this_thread::sleep_for(instance->model->step_delay);
    for (std::uint32_t i = 0; i < count; ++i) {
      auto& s = slot_of(*instance, slots[i]);
      check_token(tokens[i]);
      if (positions[i] != s.tokens.size()) {
        sdk::fail(SURGE_ERROR_INVALID_ARGUMENT, "slot " + std::to_string(slots[i]) + " holds " +
                                                    std::to_string(s.tokens.size()) + " tokens, step at position " +
                                                    std::to_string(positions[i]));
      }
      if (positions[i] + 1 > instance->model->max_context) {
        sdk::fail(SURGE_ERROR_INVALID_ARGUMENT, "position " + std::to_string(positions[i]) + " is past the context");
      }
      s.tokens.push_back(tokens[i]);
      predict(*instance->model, s, logits + static_cast<std::size_t>(i) * vocab_size);
    }
  });
}

extern "C" SURGE_BACKEND_EXPORT void surge_sequence_release(surge_instance* instance, uint32_t slot) {
  if (slot < instance->slots.size()) instance->slots[slot] = {};
}
