// A stateful demo backend for the sequence batcher (docs/sequences.md): its
// output is the running sum of its input over a sequence.
//
// Config: one INT32 input and one INT32 output of the same shape, and
// sequence_batching. Each request is one step of one sequence; the server
// delivers the sequence's slot and flags as request parameters
// (sequence_slot, sequence_start, sequence_end). A step with sequence_start
// begins the sum at 0; the output is the sum after adding the step's
// elements. State is kept per slot, so a sequence that timed out and the
// one that reuses its slot never mix: the new one always starts.
#include <surge/backend_helpers.hpp>

#include <charconv>
#include <cstdint>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

namespace sdk = surge::backend_sdk;

struct surge_model {
  std::string name;
  std::string input;
  std::string output;
  std::mutex mutex;
  std::unordered_map<std::uint32_t, std::int64_t> sums;  // slot -> running sum; guarded by mutex
};

struct surge_instance {
  surge_model* model;
};

namespace {

std::uint32_t slot_of(const sdk::request_view& request) {
  const auto text = request.parameter("sequence_slot");
  std::uint32_t slot = 0;
  if (!text || std::from_chars(text->data(), text->data() + text->size(), slot).ec != std::errc{}) {
    sdk::fail(SURGE_ERROR_INVALID_ARGUMENT, "the request carries no sequence_slot: the model needs sequence_batching");
  }
  return slot;
}

void step(surge_model& model, const sdk::request_view& request, sdk::response& response) {
  const auto slot = slot_of(request);
  const bool start = request.parameter("sequence_start") == std::optional<std::string_view>("true");
  const auto input = request.input(model.input);
  if (input.type() != SURGE_TYPE_INT32) sdk::fail(SURGE_ERROR_INVALID_ARGUMENT, "input must be INT32");
  const auto bytes = input.bytes();
  std::int64_t added = 0;
  for (std::size_t at = 0; at + 4 <= bytes.size(); at += 4) {
    std::int32_t value;
    std::memcpy(&value, bytes.data() + at, 4);
    added += value;
  }
  std::int64_t sum;
  {
    std::lock_guard lock(model.mutex);
    auto& held = model.sums[slot];
    if (start) held = 0;
    held += added;
    sum = held;
  }
  const auto out_value = static_cast<std::int32_t>(sum);
  auto out = response.output(model.output, SURGE_TYPE_INT32, input.shape(), bytes.size());
  for (std::size_t at = 0; at + 4 <= out.size(); at += 4) std::memcpy(out.data() + at, &out_value, 4);
}

}  // namespace

SURGE_BACKEND_DEFINE_COMMON_EXPORTS();

extern "C" SURGE_BACKEND_EXPORT surge_error* surge_model_create(surge_model_info* raw, surge_model** out) {
  *out = nullptr;
  return sdk::guard([&] {
    const sdk::model_info info(raw);
    const auto inputs = info.inputs();
    const auto outputs = info.outputs();
    if (inputs.size() != 1 || outputs.size() != 1 || inputs[0].type != SURGE_TYPE_INT32 ||
        outputs[0].type != SURGE_TYPE_INT32) {
      sdk::fail(SURGE_ERROR_UNSUPPORTED, "model '" + info.name() + "' needs one INT32 input and one INT32 output");
    }
    sdk::parameter_map(info).reject_unknown({});
    auto model = std::make_unique<surge_model>();
    model->name = info.name();
    model->input = inputs[0].name;
    model->output = outputs[0].name;
    info.set_capabilities(SURGE_CAPABILITY_SHORT_EXECUTE | SURGE_CAPABILITY_SEQUENCE);
    *out = model.release();
  });
}

extern "C" SURGE_BACKEND_EXPORT void surge_model_delete(surge_model* model) { delete model; }

extern "C" SURGE_BACKEND_EXPORT surge_error* surge_instance_create(surge_model* model, uint32_t, surge_instance** out) {
  *out = nullptr;
  return sdk::guard([&] { *out = new surge_instance{model}; });
}

extern "C" SURGE_BACKEND_EXPORT void surge_instance_delete(surge_instance* instance) { delete instance; }

extern "C" SURGE_BACKEND_EXPORT surge_error* surge_instance_execute(surge_instance* instance, surge_request** requests,
                                                                    uint32_t count) {
  return sdk::guard([&] {
    for (auto* request : sdk::requests_of(requests, count)) {
      sdk::answer(request, [&](const sdk::request_view& view, sdk::response& response) {
        step(*instance->model, view, response);
      });
    }
  });
}
