// TorchScript backend: runs <version_directory>/<default_model_filename or
// model.pt> with libtorch on the CPU.
//
// config.pbtxt parameters (optional, string values):
//   intra_op_threads  threads one operator may use. libtorch keeps this per
//                     process, not per model: the last model loaded sets the
//                     shared default and OpenBLAS's pool, and each execution
//                     thread re-applies its own model's value before running.
//                     Unset: libtorch's default, capped at the CPUs this
//                     process may run on.
//   inter_op_threads  size of libtorch's inter-op pool (used by fork/wait in
//                     scripts). Process-wide and settable once: a second model
//                     asking for a different size fails to load.
//
// Inputs are matched to forward()'s arguments by name when every config input
// names an argument, otherwise by position. forward() may return a Tensor, a
// tuple or list of Tensors (matched to config outputs by position) or a
// Dict[str, Tensor] (matched by name).
#include <surge/backend_helpers.hpp>

#include <ATen/Parallel.h>
#include <torch/script.h>

#include "common/torch_threads.hpp"

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sdk = surge::backend_sdk;

namespace {

struct declared_tensor {
  std::string name;
  surge_data_type type;
  c10::ScalarType scalar_type;
  std::vector<std::int64_t> dims;  // without the batch dimension when the model batches
};

std::optional<c10::ScalarType> scalar_type_of(surge_data_type type) {
  switch (type) {
    case SURGE_TYPE_BOOL: return c10::kBool;
    case SURGE_TYPE_UINT8: return c10::kByte;
    case SURGE_TYPE_INT8: return c10::kChar;
    case SURGE_TYPE_INT16: return c10::kShort;
    case SURGE_TYPE_INT32: return c10::kInt;
    case SURGE_TYPE_INT64: return c10::kLong;
    case SURGE_TYPE_FP16: return c10::kHalf;
    case SURGE_TYPE_BF16: return c10::kBFloat16;
    case SURGE_TYPE_FP32: return c10::kFloat;
    case SURGE_TYPE_FP64: return c10::kDouble;
    default: return std::nullopt;  // unsigned wider than 8 bits and BYTES have no torch type
  }
}

std::vector<declared_tensor> declare(const std::vector<sdk::tensor_spec_view>& specs, std::string_view role) {
  std::vector<declared_tensor> out;
  for (const auto& spec : specs) {
    auto scalar = scalar_type_of(spec.type);
    if (!scalar) {
      sdk::fail(SURGE_ERROR_UNSUPPORTED, std::string(role) + " '" + std::string(spec.name) + "' has type " +
                                             std::string(sdk::type_name(spec.type)) +
                                             ", which TorchScript cannot represent");
    }
    out.push_back({std::string(spec.name), spec.type, *scalar, {spec.dims.begin(), spec.dims.end()}});
  }
  return out;
}

std::string_view type_name(c10::ScalarType type) {
  for (auto candidate : {SURGE_TYPE_BOOL, SURGE_TYPE_UINT8, SURGE_TYPE_INT8, SURGE_TYPE_INT16, SURGE_TYPE_INT32,
                         SURGE_TYPE_INT64, SURGE_TYPE_FP16, SURGE_TYPE_BF16, SURGE_TYPE_FP32, SURGE_TYPE_FP64}) {
    if (scalar_type_of(candidate) == type) return sdk::type_name(candidate);
  }
  return c10::toString(type);
}

// c10::Error::what() carries a C++ backtrace; clients and logs want the message.
std::string torch_message(const c10::Error& e) { return e.what_without_backtrace(); }

// Errors raised inside TorchScript code arrive with the script's traceback
// (a dozen lines); its last line is the error itself.
std::string last_line(std::string_view text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.remove_suffix(1);
  const auto newline = text.rfind('\n');
  return std::string(newline == std::string_view::npos ? text : text.substr(newline + 1));
}

}  // namespace

struct surge_model {
  std::string name;
  std::filesystem::path file;
  bool batched{false};
  std::vector<declared_tensor> inputs;
  std::vector<declared_tensor> outputs;
  // True: inputs go to forward() as keyword arguments named like the config
  // inputs. False: positionally, in config order.
  bool inputs_by_name{false};
  // 0: leave the thread's setting alone.
  int intra_op_threads{0};
  // Shared by the instances: TorchScript modules are safe to run from several
  // threads at once, and one copy of the weights is enough.
  torch::jit::Module module;
};

struct surge_instance {
  surge_model* model;
};

namespace {

void apply_thread_parameters(surge_model& model, const sdk::parameter_map& parameters) {
  if (auto intra = parameters.get_int("intra_op_threads")) {
    if (*intra < 1) sdk::fail(SURGE_ERROR_UNSUPPORTED, "parameter 'intra_op_threads' must be at least 1");
    model.intra_op_threads = static_cast<int>(*intra);
  }
  surge::torch_threads::apply_intra_op_threads(model.intra_op_threads);

  if (auto inter = parameters.get_int("inter_op_threads")) {
    if (*inter < 1) sdk::fail(SURGE_ERROR_UNSUPPORTED, "parameter 'inter_op_threads' must be at least 1");
    const int wanted = static_cast<int>(*inter);
    if (at::get_num_interop_threads() != wanted) {
      try {
        at::set_num_interop_threads(wanted);
      } catch (const c10::Error&) {
        sdk::fail(SURGE_ERROR_UNSUPPORTED,
                  "parameter 'inter_op_threads' " + std::to_string(wanted) +
                      " cannot take effect: libtorch's inter-op pool is process-wide and already has " +
                      std::to_string(at::get_num_interop_threads()) + " threads");
      }
    }
  }
}

void map_inputs(surge_model& model) {
  auto method = model.module.find_method("forward");
  if (!method) sdk::fail(SURGE_ERROR_UNSUPPORTED, "'" + model.file.string() + "' has no forward() method");
  const auto& arguments = method->function().getSchema().arguments();
  // arguments[0] is self.
  std::vector<const c10::Argument*> parameters;
  for (std::size_t i = 1; i < arguments.size(); ++i) parameters.push_back(&arguments[i]);

  auto find_parameter = [&](const std::string& name) -> const c10::Argument* {
    for (const auto* p : parameters) {
      if (p->name() == name) return p;
    }
    return nullptr;
  };
  model.inputs_by_name = std::all_of(model.inputs.begin(), model.inputs.end(),
                                     [&](const declared_tensor& t) { return find_parameter(t.name) != nullptr; });

  if (!model.inputs_by_name && model.inputs.size() > parameters.size()) {
    sdk::fail(SURGE_ERROR_UNSUPPORTED, "model '" + model.name + "' declares " + std::to_string(model.inputs.size()) +
                                           " inputs but forward() in '" + model.file.string() + "' takes " +
                                           std::to_string(parameters.size()));
  }
  std::vector<const c10::Argument*> fed;
  for (std::size_t i = 0; i < model.inputs.size(); ++i) {
    const auto* p = model.inputs_by_name ? find_parameter(model.inputs[i].name) : parameters[i];
    if (p->type()->kind() != c10::TypeKind::TensorType) {
      sdk::fail(SURGE_ERROR_UNSUPPORTED, "forward() argument '" + p->name() + "' (fed by input '" +
                                             model.inputs[i].name + "') is " + p->type()->str() +
                                             ", not a Tensor");
    }
    fed.push_back(p);
  }
  for (const auto* p : parameters) {
    if (std::find(fed.begin(), fed.end(), p) == fed.end() && !p->default_value()) {
      sdk::fail(SURGE_ERROR_UNSUPPORTED, "forward() argument '" + p->name() + "' of '" + model.file.string() +
                                             "' has no default and no config input feeds it");
    }
  }
}

// Input `decl` of the whole batch as one tensor.
at::Tensor input_tensor(const declared_tensor& decl, const sdk::gathered_input& input) {
  if (input.type != decl.type) {
    sdk::fail(SURGE_ERROR_INVALID_ARGUMENT, "input '" + decl.name + "' is " + std::string(sdk::type_name(input.type)) +
                                                ", expected " + std::string(sdk::type_name(decl.type)));
  }
  const auto bytes = input.bytes();
  const auto element_size = sdk::element_size(input.type);
  const auto elements = sdk::element_count(input.shape);
  if (elements < 0 || static_cast<std::uint64_t>(elements) * element_size != bytes.size()) {
    sdk::fail(SURGE_ERROR_INVALID_ARGUMENT, "input '" + decl.name + "' has " + std::to_string(bytes.size()) +
                                                " bytes, shape " + sdk::shape_string(input.shape) + " needs " +
                                                std::to_string(elements * static_cast<std::int64_t>(element_size)));
  }
  const auto options = at::TensorOptions().dtype(decl.scalar_type).device(at::kCPU);
  const at::IntArrayRef sizes(input.shape.data(), input.shape.size());
  if (elements == 0) return at::empty(sizes, options);
  // Zero-copy view of bytes the server lends read-only (or of gather()'s
  // copy, which is aligned): a model that modifies an input in place breaks
  // that contract.
  return torch::from_blob(const_cast<std::byte*>(bytes.data()), sizes, options);
}

void write_output(const declared_tensor& decl, const c10::IValue& value, std::int64_t batch_size,
                  std::vector<sdk::response>& responses, std::span<const std::int64_t> rows) {
  if (!value.isTensor()) {
    sdk::fail(SURGE_ERROR_INTERNAL, "forward() returned " + value.tagKind() + " for output '" + decl.name +
                                        "', expected a Tensor");
  }
  at::Tensor t = value.toTensor();
  if (t.scalar_type() != decl.scalar_type) {
    sdk::fail(SURGE_ERROR_INTERNAL, "forward() returned " + std::string(type_name(t.scalar_type())) +
                                        " for output '" + decl.name + "', the config declares " +
                                        std::string(sdk::type_name(decl.type)));
  }
  if (!t.device().is_cpu()) t = t.cpu();
  t = t.contiguous();

  const auto sizes = t.sizes();
  const std::size_t batch_rank = batch_size >= 0 ? 1 : 0;
  bool shape_ok = sizes.size() == decl.dims.size() + batch_rank && (batch_size < 0 || sizes[0] == batch_size);
  for (std::size_t i = 0; shape_ok && i < decl.dims.size(); ++i) {
    shape_ok = decl.dims[i] == -1 || decl.dims[i] == sizes[i + batch_rank];
  }
  if (!shape_ok) {
    std::vector<std::int64_t> expected;
    if (batch_size >= 0) expected.push_back(batch_size);
    expected.insert(expected.end(), decl.dims.begin(), decl.dims.end());
    sdk::fail(SURGE_ERROR_INTERNAL, "forward() returned shape " + sdk::shape_string({sizes.data(), sizes.size()}) +
                                        " for output '" + decl.name + "', the config declares " +
                                        sdk::shape_string(expected));
  }

  const auto byte_size = static_cast<std::size_t>(t.numel()) * t.element_size();
  sdk::scatter(responses, rows, decl.name, decl.type, {sizes.data(), sizes.size()},
               {static_cast<const std::byte*>(t.data_ptr()), byte_size});
}

void write_outputs(const surge_model& model, const c10::IValue& result, std::int64_t batch_size,
                   std::vector<sdk::response>& responses, std::span<const std::int64_t> rows) {
  const auto& outputs = model.outputs;
  auto expect_count = [&](std::size_t returned) {
    if (returned != outputs.size()) {
      sdk::fail(SURGE_ERROR_INTERNAL, "forward() of model '" + model.name + "' returned " + std::to_string(returned) +
                                          " tensors, the config declares " + std::to_string(outputs.size()) +
                                          " outputs");
    }
  };
  if (result.isTensor()) {
    expect_count(1);
    write_output(outputs[0], result, batch_size, responses, rows);
  } else if (result.isTuple()) {
    const auto& elements = result.toTupleRef().elements();
    expect_count(elements.size());
    for (std::size_t i = 0; i < outputs.size(); ++i) write_output(outputs[i], elements[i], batch_size, responses, rows);
  } else if (result.isList()) {
    const auto elements = result.toListRef();
    expect_count(elements.size());
    for (std::size_t i = 0; i < outputs.size(); ++i) write_output(outputs[i], elements[i], batch_size, responses, rows);
  } else if (result.isGenericDict()) {
    const auto dict = result.toGenericDict();
    for (const auto& decl : outputs) {
      auto it = dict.find(c10::IValue(decl.name));
      if (it == dict.end()) {
        sdk::fail(SURGE_ERROR_INTERNAL, "forward() of model '" + model.name + "' returned a dict without output '" +
                                            decl.name + "'");
      }
      write_output(decl, it->value(), batch_size, responses, rows);
    }
  } else {
    sdk::fail(SURGE_ERROR_INTERNAL, "forward() of model '" + model.name + "' returned " + result.tagKind() +
                                        "; expected a Tensor, a tuple or list of Tensors, or a Dict[str, Tensor]");
  }
}

}  // namespace

SURGE_BACKEND_DEFINE_COMMON_EXPORTS();

extern "C" SURGE_BACKEND_EXPORT surge_error* surge_model_create(surge_model_info* raw, surge_model** out) {
  *out = nullptr;
  return sdk::guard([&] {
    const sdk::model_info info(raw);
    auto model = std::make_unique<surge_model>();
    model->name = info.name();
    model->batched = info.batched();
    model->inputs = declare(info.inputs(), "input");
    model->outputs = declare(info.outputs(), "output");
    if (model->outputs.empty()) sdk::fail(SURGE_ERROR_UNSUPPORTED, "model '" + model->name + "' declares no outputs");

    const sdk::parameter_map parameters(info);
    parameters.reject_unknown({"intra_op_threads", "inter_op_threads"});

    model->file = std::filesystem::path(info.version_directory()) / info.model_filename("model.pt");
    std::error_code ec;
    if (!std::filesystem::is_regular_file(model->file, ec)) {
      sdk::fail(SURGE_ERROR_UNSUPPORTED, "model file '" + model->file.string() + "' not found");
    }
    try {
      model->module = torch::jit::load(model->file.string(), at::kCPU);
    } catch (const c10::Error& e) {
      sdk::fail(SURGE_ERROR_INTERNAL, "cannot load TorchScript file '" + model->file.string() + "': " + torch_message(e));
    }
    model->module.eval();
    map_inputs(*model);
    // Last, so a model that fails to load leaves the process-wide settings alone.
    apply_thread_parameters(*model, parameters);
    *out = model.release();
  });
}

SURGE_BACKEND_DEFINE_MODEL_INSTANCE_EXPORTS();

// The batch runs as one forward(): each input concatenated across the
// requests, each output split back into one response per request.
extern "C" SURGE_BACKEND_EXPORT surge_error* surge_instance_execute(surge_instance* instance, surge_request** requests,
                                                                    uint32_t request_count) {
  return sdk::guard([&] {
    surge_model& model = *instance->model;
    surge::torch_threads::reapply_intra_op_threads(model.intra_op_threads);
    c10::InferenceMode inference_mode;
    const auto batch = sdk::requests_of(requests, request_count);

    // Outlive forward(): the tensors may be views of their bytes.
    std::vector<sdk::gathered_input> gathered;
    gathered.reserve(model.inputs.size());
    std::vector<c10::IValue> positional;
    std::unordered_map<std::string, c10::IValue> named;
    std::int64_t batch_size = -1;
    for (const auto& decl : model.inputs) {
      gathered.push_back(sdk::gather(batch, decl.name));
      at::Tensor t = input_tensor(decl, gathered.back());
      if (model.batched && batch_size < 0) {
        if (t.dim() == 0) sdk::fail(SURGE_ERROR_INVALID_ARGUMENT, "input '" + decl.name + "' has no batch dimension");
        batch_size = t.size(0);
      }
      if (model.inputs_by_name) {
        named.emplace(decl.name, std::move(t));
      } else {
        positional.emplace_back(std::move(t));
      }
    }

    c10::IValue result;
    try {
      result = model.module.get_method("forward")(std::move(positional), named);
    } catch (const c10::Error& e) {
      sdk::fail(SURGE_ERROR_INTERNAL, "forward() of model '" + model.name + "' failed: " + torch_message(e));
    } catch (const std::exception& e) {
      sdk::fail(SURGE_ERROR_INTERNAL, "forward() of model '" + model.name + "' failed: " + last_line(e.what()));
    }
    auto responses = sdk::responses_for(batch);
    const std::vector<std::int64_t> rows =
        gathered.empty() ? std::vector<std::int64_t>(batch.size(), 1) : gathered.front().rows;
    write_outputs(model, result, batch_size, responses, rows);
    sdk::send_all(responses);
  });
}
