// ONNX Runtime backend: runs <version_directory>/<default_model_filename or
// model.onnx> on ONNX Runtime's CPU execution provider.
//
// config.pbtxt parameters (optional, string values):
//   intra_op_threads     threads one operator may use (ORT's intra-op pool of
//                        this model's session). Unset: ORT's default, one per
//                        physical core.
//   inter_op_threads     threads running independent nodes in parallel; above
//                        1 it switches the session to ORT_PARALLEL execution.
//   allow_empty_strings  "true": a BYTES input may hold empty elements. By
//                        default an empty element is refused (400), as text
//                        models need text.
//
// The declared inputs and outputs are checked against the model file's own at
// load; a config without inputs, outputs or max_batch_size gets them from the
// model (surge_model_autocomplete). One session per model, shared by its
// instances: Ort::Session::Run is thread-safe.
//
// Inputs declared allow_ragged_batch reach a batch with shapes that differ
// after dim 0; each is padded with zeros to the batch's longest
// (ragged_batch.hpp), and the outputs are split back by rows.
#include <surge/backend_helpers.hpp>

#include <onnxruntime_cxx_api.h>

#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "common/bytes_tensor.hpp"
#include "onnx_types.hpp"
#include "ragged_batch.hpp"
#include "signature.hpp"

namespace sdk = surge::backend_sdk;
namespace onnx = surge::onnx;

namespace {

constexpr std::uint32_t default_max_batch_size = 64;
constexpr const char* default_file = "model.onnx";

// What surge_backend_initialize sets up once per library.
struct runtime {
  Ort::Env env{ORT_LOGGING_LEVEL_WARNING, "surge"};
};

struct declared_tensor {
  std::string name;
  surge_data_type type;
  ONNXTensorElementDataType onnx_type;
};

std::vector<declared_tensor> declare(const std::vector<sdk::tensor_spec_view>& specs) {
  std::vector<declared_tensor> out;
  for (const auto& spec : specs) {
    out.push_back({std::string(spec.name), spec.type, *onnx::onnx_type_of(spec.type)});
  }
  return out;
}

std::filesystem::path model_file(const sdk::model_info& info) {
  auto file = std::filesystem::path(info.version_directory()) / info.model_filename(default_file);
  std::error_code ec;
  if (!std::filesystem::is_regular_file(file, ec)) {
    sdk::fail(SURGE_ERROR_UNSUPPORTED, "model file '" + file.string() + "' not found");
  }
  return file;
}

Ort::Session open_session(const runtime& ort, const std::filesystem::path& file, const Ort::SessionOptions& options) {
  try {
    return Ort::Session(ort.env, file.c_str(), options);
  } catch (const Ort::Exception& e) {
    sdk::fail(SURGE_ERROR_UNSUPPORTED, "cannot load ONNX model '" + file.string() + "': " + e.what());
  }
}

const runtime& runtime_of(const sdk::model_info& info) {
  const auto* ort = static_cast<const runtime*>(surge_backend_state(info.backend()));
  if (ort == nullptr) sdk::fail(SURGE_ERROR_INTERNAL, "the onnxruntime backend was not initialized");
  return *ort;
}

}  // namespace

struct surge_model {
  std::string name;
  std::string file;
  bool batched{false};
  bool allow_empty_strings{false};
  std::vector<declared_tensor> inputs;
  std::vector<declared_tensor> outputs;
  std::vector<const char*> input_names;   // into inputs, for Run()
  std::vector<const char*> output_names;  // into outputs
  Ort::MemoryInfo cpu{Ort::MemoryInfo::CreateCpu(OrtDeviceAllocator, OrtMemTypeCPU)};
  Ort::Session session{nullptr};
};

struct surge_instance {
  surge_model* model;
};

namespace {

Ort::SessionOptions session_options(const sdk::parameter_map& parameters) {
  Ort::SessionOptions options;
  if (auto intra = parameters.get_int("intra_op_threads")) {
    if (*intra < 1) sdk::fail(SURGE_ERROR_UNSUPPORTED, "parameter 'intra_op_threads' must be at least 1");
    options.SetIntraOpNumThreads(static_cast<int>(*intra));
  }
  if (auto inter = parameters.get_int("inter_op_threads")) {
    if (*inter < 1) sdk::fail(SURGE_ERROR_UNSUPPORTED, "parameter 'inter_op_threads' must be at least 1");
    options.SetInterOpNumThreads(static_cast<int>(*inter));
    if (*inter > 1) options.SetExecutionMode(ExecutionMode::ORT_PARALLEL);
  }
  options.SetGraphOptimizationLevel(GraphOptimizationLevel::ORT_ENABLE_ALL);
  return options;
}

// A request whose text inputs ORT cannot take is answered on its own (400
// naming the input) and left out of the batch; the message, or "" when fine.
std::string text_problem(const surge_model& model, sdk::request_view request) {
  for (const auto& decl : model.inputs) {
    if (decl.type != SURGE_TYPE_BYTES) continue;
    const auto input = request.find_input(decl.name);
    if (!input) return "missing input '" + decl.name + "'";
    const auto count = sdk::element_count(input->shape());
    const auto elements = surge::bytes_tensor::split(input->bytes(), static_cast<std::size_t>(count));
    if (!elements) return "input '" + decl.name + "' is not a well-formed BYTES tensor of its shape";
    for (std::size_t i = 0; i < elements->size(); ++i) {
      const auto& text = (*elements)[i];
      if (text.empty() && !model.allow_empty_strings) {
        return "input '" + decl.name + "' element " + std::to_string(i) + " is empty; the model needs text";
      }
      if (!surge::bytes_tensor::is_utf8(text)) {
        return "input '" + decl.name + "' element " + std::to_string(i) + " is not valid UTF-8";
      }
    }
  }
  return {};
}

// One input of a batch as one tensor: concatenated along dim 0, or padded
// when the requests' shapes differ after it (a ragged input).
struct batch_input {
  surge_data_type type{SURGE_TYPE_INVALID};
  std::vector<std::int64_t> shape;
  std::vector<std::int64_t> rows;
  std::optional<sdk::gathered_input> gathered;
  std::vector<std::byte> padded;

  std::span<const std::byte> bytes() const { return gathered ? gathered->bytes() : std::span<const std::byte>(padded); }
};

batch_input batch_input_of(std::span<surge_request* const> batch, const declared_tensor& decl) {
  batch_input out;
  std::vector<surge::onnx::ragged_part> parts;
  parts.reserve(batch.size());
  bool same_type = true;
  for (auto* raw : batch) {
    const auto input = sdk::request_view(raw).input(decl.name);
    same_type = same_type && input.type() == decl.type;
    parts.push_back({input.shape(), input.bytes()});
  }
  if (batch.size() < 2 || decl.type == SURGE_TYPE_BYTES || !same_type || !surge::onnx::is_ragged(parts)) {
    out.gathered.emplace(sdk::gather(batch, decl.name));
    out.type = out.gathered->type;
    out.shape = out.gathered->shape;
    out.rows = out.gathered->rows;
    return out;
  }
  try {
    auto padded = surge::onnx::pad_ragged(decl.name, parts, sdk::element_size(decl.type));
    out.type = decl.type;
    out.shape = std::move(padded.shape);
    out.rows = std::move(padded.rows);
    out.padded = std::move(padded.bytes);
  } catch (const std::invalid_argument& e) {
    sdk::fail(SURGE_ERROR_INVALID_ARGUMENT, e.what());
  }
  return out;
}

Ort::Value input_value(const surge_model& model, const declared_tensor& decl, const batch_input& input) {
  if (input.type != decl.type) {
    sdk::fail(SURGE_ERROR_INVALID_ARGUMENT, "input '" + decl.name + "' is " + std::string(sdk::type_name(input.type)) +
                                                ", expected " + std::string(sdk::type_name(decl.type)));
  }
  const auto bytes = input.bytes();
  const auto count = static_cast<std::size_t>(sdk::element_count(input.shape));
  if (decl.type == SURGE_TYPE_BYTES) {
    Ort::AllocatorWithDefaultOptions allocator;
    auto value = Ort::Value::CreateTensor(allocator, input.shape.data(), input.shape.size(), decl.onnx_type);
    const auto elements = surge::bytes_tensor::split(bytes, count);
    if (!elements) {
      sdk::fail(SURGE_ERROR_INVALID_ARGUMENT, "input '" + decl.name + "' is not a well-formed BYTES tensor");
    }
    for (std::size_t i = 0; i < count; ++i) {
      const auto& text = (*elements)[i];
      // Sized copies: an element may hold NUL bytes.
      char* buffer = value.GetResizedStringTensorElementBuffer(i, text.size());
      if (!text.empty()) std::memcpy(buffer, text.data(), text.size());
    }
    return value;
  }
  if (count * sdk::element_size(decl.type) != bytes.size()) {
    sdk::fail(SURGE_ERROR_INVALID_ARGUMENT, "input '" + decl.name + "' has " + std::to_string(bytes.size()) +
                                                " bytes, shape " + sdk::shape_string(input.shape) + " needs " +
                                                std::to_string(count * sdk::element_size(decl.type)));
  }
  // A view of the request's (or gather()'s aligned) bytes: ORT reads inputs
  // and never writes them.
  return Ort::Value::CreateTensor(model.cpu, const_cast<std::byte*>(bytes.data()), bytes.size(), input.shape.data(),
                                  input.shape.size(), decl.onnx_type);
}

void write_output(const declared_tensor& decl, const Ort::Value& value, std::int64_t rows, bool batched,
                  std::vector<sdk::response>& responses, std::span<const std::int64_t> request_rows) {
  if (!value.IsTensor()) sdk::fail(SURGE_ERROR_INTERNAL, "output '" + decl.name + "' is not a tensor");
  const auto info = value.GetTensorTypeAndShapeInfo();
  const auto shape = info.GetShape();
  if (info.GetElementType() != decl.onnx_type) {
    sdk::fail(SURGE_ERROR_INTERNAL, "output '" + decl.name + "' came back as another type than its declared " +
                                        std::string(sdk::type_name(decl.type)));
  }
  if (batched && (shape.empty() || shape[0] != rows)) {
    sdk::fail(SURGE_ERROR_INTERNAL, "output '" + decl.name + "' has shape " + sdk::shape_string(shape) +
                                        " for a batch of " + std::to_string(rows) + " rows");
  }
  const auto count = info.GetElementCount();
  if (decl.type != SURGE_TYPE_BYTES) {
    const auto* data = static_cast<const std::byte*>(value.GetTensorRawData());
    sdk::scatter(responses, request_rows, decl.name, decl.type, shape, {data, count * sdk::element_size(decl.type)});
    return;
  }
  const auto length = value.GetStringTensorDataLength();
  std::string content(length, '\0');
  std::vector<std::size_t> offsets(count);
  if (count > 0) value.GetStringTensorContent(content.data(), length, offsets.data(), count);
  std::vector<std::byte> encoded;
  encoded.reserve(length + 4 * count);
  for (std::size_t i = 0; i < count; ++i) {
    const auto end = i + 1 < count ? offsets[i + 1] : length;
    surge::bytes_tensor::append(encoded, std::string_view(content).substr(offsets[i], end - offsets[i]));
  }
  sdk::scatter(responses, request_rows, decl.name, decl.type, shape, encoded);
}

}  // namespace

SURGE_BACKEND_DEFINE_COMMON_EXPORTS();

extern "C" SURGE_BACKEND_EXPORT surge_error* surge_backend_initialize(surge_backend* backend) {
  return sdk::guard([&] {
    // The headers' API version, served by any newer runtime.
    const OrtApi* api = OrtGetApiBase()->GetApi(ORT_API_VERSION);
    if (api == nullptr) {
      sdk::fail(SURGE_ERROR_UNSUPPORTED, std::string("ONNX Runtime ") + OrtGetApiBase()->GetVersionString() +
                                             " does not serve C API version " + std::to_string(ORT_API_VERSION));
    }
    Ort::InitApi(api);
    surge_backend_set_state(backend, new runtime);
  });
}

extern "C" SURGE_BACKEND_EXPORT surge_error* surge_backend_finalize(surge_backend* backend) {
  delete static_cast<runtime*>(surge_backend_state(backend));
  surge_backend_set_state(backend, nullptr);
  return nullptr;
}

extern "C" SURGE_BACKEND_EXPORT surge_error* surge_model_autocomplete(surge_model_info* raw) {
  return sdk::guard([&] {
    const sdk::model_info info(raw);
    // A config that declares its tensors is checked in surge_model_create;
    // opening the model here as well would only double the load time.
    if (!info.inputs().empty() && !info.outputs().empty()) return;
    const auto file = model_file(info);
    Ort::SessionOptions options;
    options.SetIntraOpNumThreads(1);
    options.SetGraphOptimizationLevel(GraphOptimizationLevel::ORT_DISABLE_ALL);
    const auto session = open_session(runtime_of(info), file, options);
    onnx::autocomplete(onnx::read_signature(session), info, default_max_batch_size);
  });
}

extern "C" SURGE_BACKEND_EXPORT surge_error* surge_model_create(surge_model_info* raw, surge_model** out) {
  *out = nullptr;
  return sdk::guard([&] {
    const sdk::model_info info(raw);
    const sdk::parameter_map parameters(info);
    parameters.reject_unknown({"intra_op_threads", "inter_op_threads", "allow_empty_strings"});
    auto model = std::make_unique<surge_model>();
    model->name = info.name();
    model->batched = info.batched();
    model->allow_empty_strings = parameters.get_bool("allow_empty_strings").value_or(false);
    const auto file = model_file(info);
    model->file = file.string();
    const auto options = session_options(parameters);
    model->session = open_session(runtime_of(info), file, options);

    const auto inputs = info.inputs();
    const auto outputs = info.outputs();
    if (outputs.empty()) sdk::fail(SURGE_ERROR_UNSUPPORTED, "model '" + model->name + "' declares no outputs");
    onnx::check_declarations(onnx::read_signature(model->session), inputs, outputs, model->batched, model->file);
    model->inputs = declare(inputs);
    model->outputs = declare(outputs);
    for (const auto& t : model->inputs) model->input_names.push_back(t.name.c_str());
    for (const auto& t : model->outputs) model->output_names.push_back(t.name.c_str());
    info.set_capabilities(SURGE_CAPABILITY_SHORT_EXECUTE);
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

// The batch runs as one Session::Run: each input concatenated across the
// requests, each output split back into one response per request.
extern "C" SURGE_BACKEND_EXPORT surge_error* surge_instance_execute(surge_instance* instance, surge_request** requests,
                                                                    uint32_t request_count) {
  return sdk::guard([&] {
    surge_model& model = *instance->model;  // Run() is not const, though thread-safe
    std::vector<surge_request*> batch;
    batch.reserve(request_count);
    for (auto* raw : sdk::requests_of(requests, request_count)) {
      if (auto problem = text_problem(model, sdk::request_view(raw)); !problem.empty()) {
        sdk::send_error(raw, SURGE_ERROR_INVALID_ARGUMENT, problem);
      } else {
        batch.push_back(raw);
      }
    }
    if (batch.empty()) return;

    // Outlive Run(): the values may be views of their bytes.
    std::vector<batch_input> gathered;
    gathered.reserve(model.inputs.size());
    std::vector<Ort::Value> values;
    values.reserve(model.inputs.size());
    for (const auto& decl : model.inputs) {
      gathered.push_back(batch_input_of(batch, decl));
      values.push_back(input_value(model, decl, gathered.back()));
    }
    std::vector<Ort::Value> results;
    try {
      results = model.session.Run(Ort::RunOptions{nullptr}, model.input_names.data(), values.data(), values.size(),
                                  model.output_names.data(), model.output_names.size());
    } catch (const Ort::Exception& e) {
      sdk::fail(SURGE_ERROR_INTERNAL, "ONNX Runtime failed to run model '" + model.name + "': " + e.what());
    }
    const std::int64_t rows = gathered.empty() || gathered.front().shape.empty() ? 1 : gathered.front().shape[0];
    const std::vector<std::int64_t> request_rows =
        gathered.empty() ? std::vector<std::int64_t>(batch.size(), 1) : gathered.front().rows;
    auto responses = sdk::responses_for(batch);
    for (std::size_t i = 0; i < model.outputs.size(); ++i) {
      write_output(model.outputs[i], results[i], rows, model.batched, responses, request_rows);
    }
    sdk::send_all(responses);
  });
}
