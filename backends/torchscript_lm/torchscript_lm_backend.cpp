// TorchScript language-model backend (the generative backend API): serves a
// decoder-only model written by scripts/train_lm.py from
// <version_directory>/<default_model_filename or model.pt>, with the
// SentencePiece tokenizer <version_directory>/tokenizer.model.
//
// config.pbtxt parameters (optional, string values):
//   kv_slots          sequences one instance holds in its key/value cache
//                     (default 64). Each slot costs
//                     2 * layers * heads * max_context * head_dim * 4 bytes.
//   intra_op_threads  threads one operator may use, as in the torchscript
//                     backend (process-wide in libtorch; re-applied per call).
//
// The server owns scheduling and sampling: it picks the slot of every
// sequence, prefills prompts, steps live sequences together and samples from
// the logits returned here. This backend only validates and computes.
#include <surge/backend_helpers.hpp>

#include <torch/script.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/torch_threads.hpp"
#include "lm_module.hpp"
#include "tokenizer.hpp"

namespace sdk = surge::backend_sdk;
using surge::torchscript_lm::kv_cache;
using surge::torchscript_lm::lm_module;
using surge::torchscript_lm::tokenizer;

namespace {

constexpr std::int64_t default_kv_slots = 64;

}  // namespace

struct surge_model {
  std::string name;
  std::uint32_t kv_slots{default_kv_slots};
  int intra_op_threads{0};  // 0: libtorch's default
  std::optional<lm_module> module;
  std::optional<tokenizer> text;
};

struct surge_instance {
  surge_model* model;
  kv_cache cache;
  // Tokens each slot holds; 0 for a free slot. A step must continue a slot at
  // most where its sequence ends, never past it into stale entries.
  std::vector<std::uint32_t> held;
};

namespace {

std::string model_label(const surge_model& model) { return "model '" + model.name + "'"; }

void check_token(const surge_model& model, std::int32_t token, const std::string& where) {
  const auto vocab = model.module->dimensions().vocab_size;
  if (token < 0 || token >= vocab) {
    sdk::fail(SURGE_ERROR_INVALID_ARGUMENT, where + " is token " + std::to_string(token) + ", outside " +
                                                model_label(model) + "'s vocabulary [0, " + std::to_string(vocab) +
                                                ")");
  }
}

void check_slot(const surge_instance& instance, std::uint32_t slot, const std::string& where) {
  if (slot >= instance.held.size()) {
    sdk::fail(SURGE_ERROR_INVALID_ARGUMENT, where + " names slot " + std::to_string(slot) + ", but " +
                                                model_label(*instance.model) + " has " +
                                                std::to_string(instance.held.size()) + " KV-cache slots (0.." +
                                                std::to_string(instance.held.size() - 1) + ")");
  }
}

at::Tensor int64_tensor(std::vector<std::int64_t> values) {
  auto t = at::empty({static_cast<std::int64_t>(values.size())}, at::kLong);
  std::memcpy(t.data_ptr<std::int64_t>(), values.data(), values.size() * sizeof(std::int64_t));
  return t;
}

}  // namespace

SURGE_BACKEND_DEFINE_COMMON_EXPORTS();

extern "C" SURGE_BACKEND_EXPORT surge_error* surge_model_create(surge_model_info* raw, surge_model** out) {
  *out = nullptr;
  return sdk::guard([&] {
    const sdk::model_info info(raw);
    auto model = std::make_unique<surge_model>();
    model->name = info.name();

    const sdk::parameter_map parameters(info);
    parameters.reject_unknown({"kv_slots", "intra_op_threads"});
    if (auto slots = parameters.get_int("kv_slots")) {
      if (*slots < 1 || *slots > 65536) {
        sdk::fail(SURGE_ERROR_UNSUPPORTED, "parameter 'kv_slots' must be between 1 and 65536, got " +
                                               std::to_string(*slots));
      }
      model->kv_slots = static_cast<std::uint32_t>(*slots);
    }
    if (auto intra = parameters.get_int("intra_op_threads")) {
      if (*intra < 1) sdk::fail(SURGE_ERROR_UNSUPPORTED, "parameter 'intra_op_threads' must be at least 1");
      model->intra_op_threads = static_cast<int>(*intra);
    }

    const std::filesystem::path directory = info.version_directory();
    const std::string filename = info.model_filename("model.pt");
    model->module.emplace(directory / filename);
    model->text.emplace(directory / "tokenizer.model");

    const auto vocab = model->module->dimensions().vocab_size;
    if (model->text->vocab_size() != vocab) {
      sdk::fail(SURGE_ERROR_UNSUPPORTED, "'" + (directory / "tokenizer.model").string() + "' has " +
                                             std::to_string(model->text->vocab_size()) + " pieces but '" +
                                             (directory / filename).string() + "' has a vocabulary of " +
                                             std::to_string(vocab));
    }
    // Last, so a model that fails to load leaves the process-wide setting alone.
    surge::torch_threads::apply_intra_op_threads(model->intra_op_threads);
    *out = model.release();
  });
}

extern "C" SURGE_BACKEND_EXPORT void surge_model_delete(surge_model* model) { delete model; }

extern "C" SURGE_BACKEND_EXPORT surge_error* surge_instance_create(surge_model* model, uint32_t index,
                                                                   surge_instance** out) {
  *out = nullptr;
  return sdk::guard([&] {
    c10::InferenceMode inference_mode;
    auto instance = std::make_unique<surge_instance>();
    instance->model = model;
    instance->cache = model->module->allocate_cache(model->kv_slots);
    instance->held.assign(model->kv_slots, 0);
    *out = instance.release();
  });
}

extern "C" SURGE_BACKEND_EXPORT void surge_instance_delete(surge_instance* instance) { delete instance; }

extern "C" SURGE_BACKEND_EXPORT surge_error* surge_instance_execute(surge_instance*, surge_request**, uint32_t) {
  return surge_error_new(SURGE_ERROR_UNSUPPORTED, "generative model: use the sequence API");
}

// ---- generation -------------------------------------------------------------

extern "C" SURGE_BACKEND_EXPORT surge_error* surge_generation_info_get(surge_model* model,
                                                                       surge_generation_info* info) {
  return sdk::guard([&] {
    const auto& d = model->module->dimensions();
    sdk::set_generation(info, SURGE_GENERATION_MAX_SEQUENCES, model->kv_slots);
    sdk::set_generation(info, SURGE_GENERATION_MAX_CONTEXT, d.max_context);
    sdk::set_generation(info, SURGE_GENERATION_VOCAB_SIZE, d.vocab_size);
    sdk::set_generation(info, SURGE_GENERATION_EOS_TOKEN, model->text->eos_token());
    sdk::set_generation(info, SURGE_GENERATION_BOS_TOKEN, model->text->bos_token());
  });
}

extern "C" SURGE_BACKEND_EXPORT surge_error* surge_generation_tokenize(surge_model* model, const char* text,
                                                                       uint64_t length, int32_t* tokens,
                                                                       uint32_t capacity, uint32_t* count) {
  return sdk::guard([&] {
    const auto ids = model->text->encode({text, static_cast<std::size_t>(length)});
    if (ids.size() > UINT32_MAX) sdk::fail(SURGE_ERROR_INVALID_ARGUMENT, "the text has too many tokens");
    *count = static_cast<std::uint32_t>(ids.size());
    // std::copy_n rather than memcpy: a caller asking for the size passes no buffer.
    std::copy_n(ids.begin(), std::min<std::size_t>(ids.size(), capacity), tokens);
  });
}

extern "C" SURGE_BACKEND_EXPORT surge_error* surge_generation_detokenize(surge_model* model, const int32_t* tokens,
                                                                         uint32_t count, char* text,
                                                                         uint64_t capacity, uint64_t* length) {
  return sdk::guard([&] {
    const auto decoded = model->text->decode({tokens, count});
    *length = decoded.size();
    std::copy_n(decoded.begin(), std::min<std::uint64_t>(decoded.size(), capacity), text);
  });
}

extern "C" SURGE_BACKEND_EXPORT surge_error* surge_sequence_prefill(surge_instance* instance, uint32_t slot,
                                                                    const int32_t* tokens, uint32_t count,
                                                                    float* logits) {
  return sdk::guard([&] {
    const surge_model& model = *instance->model;
    check_slot(*instance, slot, "prefill");
    const auto max_context = model.module->dimensions().max_context;
    if (count == 0) {
      sdk::fail(SURGE_ERROR_INVALID_ARGUMENT, "prefill of slot " + std::to_string(slot) + " has no tokens");
    }
    if (count > max_context) {
      sdk::fail(SURGE_ERROR_INVALID_ARGUMENT, "prompt of " + std::to_string(count) + " tokens exceeds " +
                                                  model_label(model) + "'s context of " +
                                                  std::to_string(max_context) + " tokens");
    }
    std::vector<std::int64_t> ids(count);
    for (std::uint32_t i = 0; i < count; ++i) {
      check_token(model, tokens[i], "prompt position " + std::to_string(i));
      ids[i] = tokens[i];
    }

    surge::torch_threads::reapply_intra_op_threads(model.intra_op_threads);
    c10::InferenceMode inference_mode;
    // Whatever the slot held is gone once its first position is overwritten.
    instance->held[slot] = 0;
    const auto row = model.module->prefill(int64_tensor(std::move(ids)), slot, instance->cache);
    std::memcpy(logits, row.data_ptr<float>(), static_cast<std::size_t>(row.numel()) * sizeof(float));
    instance->held[slot] = count;
  });
}

extern "C" SURGE_BACKEND_EXPORT surge_error* surge_sequence_step(surge_instance* instance, const uint32_t* slots,
                                                                 const int32_t* tokens, const uint32_t* positions,
                                                                 uint32_t count, float* logits) {
  return sdk::guard([&] {
    const surge_model& model = *instance->model;
    if (count == 0) return;
    const auto max_context = model.module->dimensions().max_context;
    std::vector<std::int64_t> token_ids(count), position_ids(count), slot_ids(count);
    std::vector<bool> stepped(instance->held.size(), false);
    for (std::uint32_t i = 0; i < count; ++i) {
      const std::string where = "step sequence " + std::to_string(i);
      check_slot(*instance, slots[i], where);
      if (stepped[slots[i]]) {
        sdk::fail(SURGE_ERROR_INVALID_ARGUMENT, where + " names slot " + std::to_string(slots[i]) +
                                                    ", which an earlier sequence of the step already uses");
      }
      stepped[slots[i]] = true;
      if (static_cast<std::int64_t>(positions[i]) + 1 > max_context) {
        sdk::fail(SURGE_ERROR_INVALID_ARGUMENT, where + " (slot " + std::to_string(slots[i]) + ") is at position " +
                                                    std::to_string(positions[i]) + ", but " + model_label(model) +
                                                    "'s context holds " + std::to_string(max_context) +
                                                    " tokens (positions 0.." + std::to_string(max_context - 1) + ")");
      }
      if (positions[i] == 0 || positions[i] > instance->held[slots[i]]) {
        sdk::fail(SURGE_ERROR_INVALID_ARGUMENT,
                  where + " continues slot " + std::to_string(slots[i]) + " at position " +
                      std::to_string(positions[i]) + ", but the slot holds " +
                      std::to_string(instance->held[slots[i]]) + " tokens (a step follows a prefill of that slot)");
      }
      check_token(model, tokens[i], where);
      token_ids[i] = tokens[i];
      position_ids[i] = positions[i];
      slot_ids[i] = slots[i];
    }

    surge::torch_threads::reapply_intra_op_threads(model.intra_op_threads);
    c10::InferenceMode inference_mode;
    const auto rows = model.module->step(int64_tensor(std::move(token_ids)), int64_tensor(std::move(position_ids)),
                                         int64_tensor(std::move(slot_ids)), instance->cache);
    std::memcpy(logits, rows.data_ptr<float>(), static_cast<std::size_t>(rows.numel()) * sizeof(float));
    // A position before the slot's end rewinds the sequence to it.
    for (std::uint32_t i = 0; i < count; ++i) instance->held[slots[i]] = positions[i] + 1;
  });
}

extern "C" SURGE_BACKEND_EXPORT void surge_sequence_release(surge_instance* instance, uint32_t slot) {
  // Nothing to free: the slot's cache entries are overwritten by its next
  // prefill. Forgetting its length makes a step on a released slot an error.
  if (slot < instance->held.size()) instance->held[slot] = 0;
}
