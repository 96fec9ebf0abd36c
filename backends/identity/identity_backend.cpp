// Test backend: output i is a copy of input i. Its parameters inject latency
// and failures so scheduler and server tests can drive faults
// deterministically instead of hoping for them.
//
// config.pbtxt parameters (all optional, string values):
//   execute_delay_us      sleep this long in every execute, before anything else
//   fail_on_value         fail the batch when an element of the first input
//                         (numeric types other than FP16/BF16/BOOL) equals it
//   fail_every_n_batches  fail every Nth execute of the model, counted across
//                         all its instances; 0 disables
//   crash_on_value        abort the whole process (std::abort) when an element
//                         of the first input equals it: a poison request for
//                         the worker-pool tests, which must survive it
//   load_delay_ms         sleep this long while loading the model (a slow,
//                         cold start)
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
bool contains_value(const surge_tensor& t, double target) {
  // memcpy per element: the request body gives no alignment guarantee.
  const auto* bytes = static_cast<const unsigned char*>(t.data);
  const std::size_t count = t.byte_size / sizeof(T);
  for (std::size_t i = 0; i < count; ++i) {
    T value;
    std::memcpy(&value, bytes + i * sizeof(T), sizeof(T));
    if (static_cast<double>(value) == target) return true;
  }
  return false;
}

bool contains_value(const surge_tensor& t, double target) {
  switch (t.data_type) {
    case SURGE_TYPE_FP32: return contains_value<float>(t, target);
    case SURGE_TYPE_FP64: return contains_value<double>(t, target);
    case SURGE_TYPE_INT8: return contains_value<std::int8_t>(t, target);
    case SURGE_TYPE_INT16: return contains_value<std::int16_t>(t, target);
    case SURGE_TYPE_INT32: return contains_value<std::int32_t>(t, target);
    case SURGE_TYPE_INT64: return contains_value<std::int64_t>(t, target);
    case SURGE_TYPE_UINT8: return contains_value<std::uint8_t>(t, target);
    case SURGE_TYPE_UINT16: return contains_value<std::uint16_t>(t, target);
    case SURGE_TYPE_UINT32: return contains_value<std::uint32_t>(t, target);
    case SURGE_TYPE_UINT64: return contains_value<std::uint64_t>(t, target);
    default: return false;
  }
}

const surge_tensor& find_input(const surge_tensor* inputs, std::uint32_t count, const std::string& name) {
  for (std::uint32_t i = 0; i < count; ++i) {
    if (inputs[i].name != nullptr && name == inputs[i].name) return inputs[i];
  }
  sdk::fail(SURGE_ERROR_INVALID_ARGUMENT, "missing input '" + name + "'");
}

}  // namespace

SURGE_BACKEND_DEFINE_COMMON_EXPORTS();

extern "C" SURGE_BACKEND_EXPORT surge_error* surge_model_create(const surge_model_spec* spec, surge_model** out) {
  *out = nullptr;
  return sdk::guard([&] {
    auto model = std::make_unique<surge_model>();
    model->name = spec->model_name ? spec->model_name : "";

    const auto inputs = sdk::inputs_of(*spec);
    const auto outputs = sdk::outputs_of(*spec);
    if (inputs.empty() || inputs.size() != outputs.size()) {
      sdk::fail(SURGE_ERROR_UNSUPPORTED, "identity model '" + model->name + "' needs as many outputs as inputs (" +
                                             std::to_string(inputs.size()) + " inputs, " +
                                             std::to_string(outputs.size()) + " outputs)");
    }
    for (std::size_t i = 0; i < inputs.size(); ++i) {
      if (inputs[i].data_type != outputs[i].data_type) {
        sdk::fail(SURGE_ERROR_UNSUPPORTED, "identity output '" + std::string(outputs[i].name) + "' is " +
                                               std::string(sdk::type_name(outputs[i].data_type)) + " but input '" +
                                               inputs[i].name + "' is " +
                                               std::string(sdk::type_name(inputs[i].data_type)));
      }
      model->tensors.push_back({inputs[i].name, outputs[i].name, inputs[i].data_type});
    }

    const sdk::parameter_map parameters(*spec);
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
    *out = model.release();
  });
}

extern "C" SURGE_BACKEND_EXPORT void surge_model_delete(surge_model* model) { delete model; }

extern "C" SURGE_BACKEND_EXPORT surge_error* surge_instance_create(surge_model* model, uint32_t index,
                                                                   surge_instance** out) {
  *out = nullptr;
  return sdk::guard([&] { *out = new surge_instance{model}; });
}

extern "C" SURGE_BACKEND_EXPORT void surge_instance_delete(surge_instance* instance) { delete instance; }

extern "C" SURGE_BACKEND_EXPORT surge_error* surge_instance_execute(surge_instance* instance,
                                                                    const surge_tensor* inputs, uint32_t input_count,
                                                                    surge_output_allocator allocate,
                                                                    void* allocator_context) {
  return sdk::guard([&] {
    surge_model& model = *instance->model;
    const std::uint64_t batch_number = model.batches_executed.fetch_add(1, std::memory_order_relaxed) + 1;
    if (model.execute_delay.count() > 0) std::this_thread::sleep_for(model.execute_delay);

    if (model.fail_every_n_batches != 0 && batch_number % model.fail_every_n_batches == 0) {
      sdk::fail(SURGE_ERROR_INTERNAL, "injected failure: batch " + std::to_string(batch_number) + " of model '" +
                                          model.name + "' (fail_every_n_batches " +
                                          std::to_string(model.fail_every_n_batches) + ")");
    }

    std::vector<const surge_tensor*> matched;
    matched.reserve(model.tensors.size());
    for (const auto& t : model.tensors) {
      const surge_tensor& input = find_input(inputs, input_count, t.input);
      if (input.data_type != t.type) {
        sdk::fail(SURGE_ERROR_INVALID_ARGUMENT, "input '" + t.input + "' is " +
                                                    std::string(sdk::type_name(input.data_type)) + ", expected " +
                                                    std::string(sdk::type_name(t.type)));
      }
      const auto size = sdk::element_size(input.data_type);
      const auto count = sdk::element_count(sdk::shape_of(input));
      if (size != 0 && (count < 0 || static_cast<std::uint64_t>(count) * size != input.byte_size)) {
        sdk::fail(SURGE_ERROR_INVALID_ARGUMENT, "input '" + t.input + "' has " + std::to_string(input.byte_size) +
                                                    " bytes, shape " + sdk::shape_string(sdk::shape_of(input)) +
                                                    " needs " + std::to_string(count * static_cast<std::int64_t>(size)));
      }
      matched.push_back(&input);
    }

    if (model.crash_on_value && contains_value(*matched.front(), *model.crash_on_value)) std::abort();
    if (model.fail_on_value && contains_value(*matched.front(), *model.fail_on_value)) {
      sdk::fail(SURGE_ERROR_INTERNAL, "injected failure");
    }

    for (std::size_t i = 0; i < matched.size(); ++i) {
      const surge_tensor& input = *matched[i];
      void* buffer = sdk::allocate_output(allocate, allocator_context, model.tensors[i].output, input.data_type,
                                          sdk::shape_of(input), input.byte_size);
      if (input.byte_size != 0) std::memcpy(buffer, input.data, input.byte_size);
    }
  });
}
