// Test backend: output i of each request is a copy of its input i. Its
// parameters inject latency and failures so scheduler and server tests can
// drive faults deterministically instead of hoping for them. Requests are
// answered one by one, so a fault injected into one request leaves the
// others of its batch alone.
//
// config.pbtxt parameters (all optional, string values):
//   execute_delay_us      sleep this long in every execute, before anything else
//   fail_on_value         fail the request (not its batch) whose first input
//                         has an element (numeric types other than
//                         FP16/BF16/BOOL) equal to it, with an internal error
//                         naming the value; the batch's other requests succeed
//   fail_every_n_batches  fail every Nth execute of the model as a whole
//                         (every request of the batch), counted across all
//                         its instances; 0 disables
//   crash_on_value        abort the whole process (std::abort) when an element
//                         of a request's first input equals it: a poison
//                         request for the worker-pool tests, which must
//                         survive it
//   load_delay_ms         sleep this long while loading the model (a slow,
//                         cold start)
//
// Config auto-complete: a config that declares inputs but no outputs gets
// one output per input, of the same type and dims, named like the input
// with INPUT replaced by OUTPUT ("INPUT0" -> "OUTPUT0"), or with "_OUTPUT"
// appended when the name has no INPUT in it.
#include <surge/backend_helpers.hpp>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace sdk = surge::backend_sdk;

struct surge_model {
  struct passthrough {
    std::string input;
    std::string output;
    surge_data_type type;
  };

  std::string name;
  std::vector<passthrough> tensors;  // config input i feeds config output i
  std::chrono::microseconds execute_delay{0};
  std::optional<double> fail_on_value;
  std::optional<double> crash_on_value;
  std::uint64_t fail_every_n_batches{0};
  // Shared by every instance so "every Nth batch" means the model's Nth batch
  // whichever instance ran it.
  std::atomic<std::uint64_t> batches_executed{0};
};

struct surge_instance {
  surge_model* model;
};

namespace {

template <class T>
bool contains_value(std::span<const std::byte> bytes, double target) {
  // memcpy per element: the request body gives no alignment guarantee.
  const std::size_t count = bytes.size() / sizeof(T);
  for (std::size_t i = 0; i < count; ++i) {
    T value;
    std::memcpy(&value, bytes.data() + i * sizeof(T), sizeof(T));
    if (static_cast<double>(value) == target) return true;
  }
  return false;
}

bool contains_value(const sdk::input_view& input, double target) {
  const auto bytes = input.bytes();
  switch (input.type()) {
    case SURGE_TYPE_FP32: return contains_value<float>(bytes, target);
    case SURGE_TYPE_FP64: return contains_value<double>(bytes, target);
    case SURGE_TYPE_INT8: return contains_value<std::int8_t>(bytes, target);
    case SURGE_TYPE_INT16: return contains_value<std::int16_t>(bytes, target);
    case SURGE_TYPE_INT32: return contains_value<std::int32_t>(bytes, target);
    case SURGE_TYPE_INT64: return contains_value<std::int64_t>(bytes, target);
    case SURGE_TYPE_UINT8: return contains_value<std::uint8_t>(bytes, target);
    case SURGE_TYPE_UINT16: return contains_value<std::uint16_t>(bytes, target);
    case SURGE_TYPE_UINT32: return contains_value<std::uint32_t>(bytes, target);
    case SURGE_TYPE_UINT64: return contains_value<std::uint64_t>(bytes, target);
    default: return false;
  }
}

std::string value_text(double value) {
  std::string text = std::to_string(value);
  while (text.size() > 1 && text.back() == '0') text.pop_back();
  if (!text.empty() && text.back() == '.') text.pop_back();
  return text;
}

// One request: checks its inputs, injects what the parameters ask for, then
// copies each input to its output.
void echo(const surge_model& model, const sdk::request_view& request, sdk::response& response) {
  const auto first = request.input(model.tensors.front().input);
  if (model.crash_on_value && contains_value(first, *model.crash_on_value)) std::abort();
  if (model.fail_on_value && contains_value(first, *model.fail_on_value)) {
    sdk::fail(SURGE_ERROR_INTERNAL, "injected failure: input '" + model.tensors.front().input + "' of request '" +
                                        std::string(request.id()) + "' contains " + value_text(*model.fail_on_value) +
                                        " (fail_on_value)");
  }
  for (const auto& t : model.tensors) {
    const auto input = request.input(t.input);
    if (input.type() != t.type) {
      sdk::fail(SURGE_ERROR_INVALID_ARGUMENT, "input '" + t.input + "' is " +
                                                  std::string(sdk::type_name(input.type())) + ", expected " +
                                                  std::string(sdk::type_name(t.type)));
    }
    const auto size = sdk::element_size(t.type);
    const auto count = sdk::element_count(input.shape());
    if (size != 0 && (count < 0 || static_cast<std::uint64_t>(count) * size != input.byte_size())) {
      sdk::fail(SURGE_ERROR_INVALID_ARGUMENT, "input '" + t.input + "' has " + std::to_string(input.byte_size()) +
                                                  " bytes, shape " + sdk::shape_string(input.shape()) + " needs " +
                                                  std::to_string(count * static_cast<std::int64_t>(size)));
    }
    response.output_copy(t.output, t.type, input.shape(), input.bytes());
  }
}

}  // namespace

SURGE_BACKEND_DEFINE_COMMON_EXPORTS();

extern "C" SURGE_BACKEND_EXPORT surge_error* surge_model_autocomplete(surge_model_info* raw) {
  return sdk::guard([&] {
    const sdk::model_info info(raw);
    if (!info.outputs().empty()) return;
    for (const auto& input : info.inputs()) {
      std::string name(input.name);
      if (const auto at = name.find("INPUT"); at != std::string::npos) {
        name.replace(at, 5, "OUTPUT");
      } else {
        name += "_OUTPUT";
      }
      info.add_output(name, input.type, input.dims);
    }
  });
}

extern "C" SURGE_BACKEND_EXPORT surge_error* surge_model_create(surge_model_info* raw, surge_model** out) {
  *out = nullptr;
  return sdk::guard([&] {
    const sdk::model_info info(raw);
    auto model = std::make_unique<surge_model>();
    model->name = info.name();

    const auto inputs = info.inputs();
    const auto outputs = info.outputs();
    if (inputs.empty() || inputs.size() != outputs.size()) {
      sdk::fail(SURGE_ERROR_UNSUPPORTED, "identity model '" + model->name + "' needs as many outputs as inputs (" +
                                             std::to_string(inputs.size()) + " inputs, " +
                                             std::to_string(outputs.size()) + " outputs)");
    }
    for (std::size_t i = 0; i < inputs.size(); ++i) {
      if (inputs[i].type != outputs[i].type) {
        sdk::fail(SURGE_ERROR_UNSUPPORTED, "identity output '" + std::string(outputs[i].name) + "' is " +
                                               std::string(sdk::type_name(outputs[i].type)) + " but input '" +
                                               std::string(inputs[i].name) + "' is " +
                                               std::string(sdk::type_name(inputs[i].type)));
      }
      model->tensors.push_back({std::string(inputs[i].name), std::string(outputs[i].name), inputs[i].type});
    }

    const sdk::parameter_map parameters(info);
    parameters.reject_unknown(
        {"execute_delay_us", "fail_on_value", "fail_every_n_batches", "crash_on_value", "load_delay_ms"});
    if (auto delay = parameters.get_int("execute_delay_us")) {
      if (*delay < 0) sdk::fail(SURGE_ERROR_UNSUPPORTED, "parameter 'execute_delay_us' must not be negative");
      model->execute_delay = std::chrono::microseconds(*delay);
    }
    model->fail_on_value = parameters.get_double("fail_on_value");
    model->crash_on_value = parameters.get_double("crash_on_value");
    if (auto delay = parameters.get_int("load_delay_ms")) {
      if (*delay < 0) sdk::fail(SURGE_ERROR_UNSUPPORTED, "parameter 'load_delay_ms' must not be negative");
      std::this_thread::sleep_for(std::chrono::milliseconds(*delay));
    }
    if (auto every = parameters.get_int("fail_every_n_batches")) {
      if (*every < 0) sdk::fail(SURGE_ERROR_UNSUPPORTED, "parameter 'fail_every_n_batches' must not be negative");
      model->fail_every_n_batches = static_cast<std::uint64_t>(*every);
    }
    // Copying never blocks; with a delay it sleeps, which is blocking.
    if (model->execute_delay.count() == 0) info.set_capabilities(SURGE_CAPABILITY_SHORT_EXECUTE);
    *out = model.release();
  });
}

SURGE_BACKEND_DEFINE_MODEL_INSTANCE_EXPORTS();

extern "C" SURGE_BACKEND_EXPORT surge_error* surge_instance_execute(surge_instance* instance, surge_request** requests,
                                                                    uint32_t request_count) {
  return sdk::guard([&] {
    const surge_model& model = *instance->model;
    const std::uint64_t batch_number = instance->model->batches_executed.fetch_add(1, std::memory_order_relaxed) + 1;
    if (model.execute_delay.count() > 0) std::this_thread::sleep_for(model.execute_delay);

    if (model.fail_every_n_batches != 0 && batch_number % model.fail_every_n_batches == 0) {
      sdk::fail(SURGE_ERROR_INTERNAL, "injected failure: batch " + std::to_string(batch_number) + " of model '" +
                                          model.name + "' (fail_every_n_batches " +
                                          std::to_string(model.fail_every_n_batches) + ")");
    }
    for (auto* request : sdk::requests_of(requests, request_count)) {
      sdk::answer(request,
                  [&](const sdk::request_view& view, sdk::response& response) { echo(model, view, response); });
    }
  });
}
