// XGBoost backend: runs <version_directory>/<default_model_filename or
// model.json> (XGBoost's JSON, or UBJSON when the name ends in .ubj) with
// libxgboost's C API on the CPU.
//
// One input: the feature rows, FP32 or FP64, shape [..., num_feature] (with
// the batch dimension in front when the model batches); NaN marks a missing
// value. One output: FP32, the input's shape with the feature dimension
// replaced by what the model gives per row: num_class values for a
// multi-class model, 1 otherwise (probabilities, margin), or one leaf index
// per tree (leaf).
//
// config.pbtxt parameters (optional, string values):
//   predict_type  probabilities (default: the objective's transformed
//                 prediction), margin (untransformed scores) or leaf.
//   threads       threads one prediction may use (XGBoost's nthread).
//                 Unset: XGBoost's default, every CPU.
//
// A batch is one XGBoosterPredictFromDense call over the rows of all its
// requests (leaf: one DMatrix and one XGBoosterPredictFromDMatrix). Each
// instance holds its own booster: the prediction buffer XGBoost returns
// belongs to the booster until its next call.
#include <surge/backend_helpers.hpp>

#include <xgboost/c_api.h>

#include <cstdio>
#include <filesystem>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "common/shape_match.hpp"

namespace sdk = surge::backend_sdk;

namespace {

constexpr std::uint32_t default_max_batch_size = 64;
constexpr const char* default_file = "model.json";

// XGBoost's messages start with a timestamp and source location and may end
// in a native stack trace: the client and the log want the sentence.
std::string xgb_message() {
  std::string text = XGBGetLastError();
  if (const auto trace = text.find("\nStack trace:"); trace != std::string::npos) text.resize(trace);
  if (!text.empty() && text.front() == '[') {
    if (const auto close = text.find("] "); close != std::string::npos) text.erase(0, close + 2);
  }
  return text;
}

void check_xgb(int status, const std::string& what) {
  if (status != 0) sdk::fail(SURGE_ERROR_INTERNAL, what + ": " + xgb_message());
}

struct booster {
  BoosterHandle handle{nullptr};
  booster() = default;
  booster(const booster&) = delete;
  booster& operator=(const booster&) = delete;
  ~booster() {
    if (handle != nullptr) XGBoosterFree(handle);
  }
};

std::unique_ptr<booster> load_booster(const std::string& file, std::optional<std::int64_t> threads) {
  auto out = std::make_unique<booster>();
  check_xgb(XGBoosterCreate(nullptr, 0, &out->handle), "cannot create an XGBoost booster");
  if (XGBoosterLoadModel(out->handle, file.c_str()) != 0) {
    sdk::fail(SURGE_ERROR_UNSUPPORTED, "cannot load XGBoost model '" + file + "': " + xgb_message());
  }
  if (threads) {
    check_xgb(XGBoosterSetParam(out->handle, "nthread", std::to_string(*threads).c_str()),
              "cannot set XGBoost's nthread");
  }
  return out;
}

std::string model_file(const sdk::model_info& info) {
  auto file = std::filesystem::path(info.version_directory()) / info.model_filename(default_file);
  std::error_code ec;
  if (!std::filesystem::is_regular_file(file, ec)) {
    sdk::fail(SURGE_ERROR_UNSUPPORTED, "model file '" + file.string() + "' not found");
  }
  return file.string();
}

int predict_type_code(const sdk::parameter_map& parameters) {
  const auto name = parameters.get_string("predict_type").value_or("probabilities");
  if (name == "probabilities") return 0;
  if (name == "margin") return 1;
  if (name == "leaf") return 6;
  sdk::fail(SURGE_ERROR_UNSUPPORTED,
            "parameter 'predict_type' must be probabilities, margin or leaf, got '" + name + "'");
}

std::optional<std::int64_t> threads_of(const sdk::parameter_map& parameters) {
  auto threads = parameters.get_int("threads");
  if (threads && *threads < 1) sdk::fail(SURGE_ERROR_UNSUPPORTED, "parameter 'threads' must be at least 1");
  return threads;
}

// The JSON of XGBoost's array interface for a dense row-major matrix.
std::string array_interface(const void* data, std::uint64_t rows, std::uint64_t columns, surge_data_type type) {
  char text[160];
  std::snprintf(text, sizeof text, R"({"data":[%llu,true],"shape":[%llu,%llu],"typestr":"%s","version":3})",
                static_cast<unsigned long long>(reinterpret_cast<std::uintptr_t>(data)),
                static_cast<unsigned long long>(rows), static_cast<unsigned long long>(columns),
                type == SURGE_TYPE_FP64 ? "<f8" : "<f4");
  return text;
}

std::string predict_config(int type) {
  // NaN in the JSON (XGBoost's reader takes it) makes NaN the missing value.
  return R"({"type":)" + std::to_string(type) +
         R"(,"training":false,"iteration_begin":0,"iteration_end":0,"strict_shape":false,"cache_id":0,"missing":NaN})";
}

struct prediction {
  const bst_ulong* shape{nullptr};
  bst_ulong rank{0};
  const float* values{nullptr};  // owned by the booster until its next call
};

// One call for all `rows`: in-place prediction on the caller's buffer, or,
// for leaf indices (which XGBoost 1.7 predicts only from a DMatrix), one
// DMatrix built from the same buffer.
prediction predict(const booster& b, const void* data, std::uint64_t rows, std::uint64_t features,
                   surge_data_type type, int predict_type, const std::string& config) {
  prediction out;
  const auto array = array_interface(data, rows, features, type);
  if (predict_type != 6) {
    check_xgb(XGBoosterPredictFromDense(b.handle, array.c_str(), config.c_str(), nullptr, &out.shape, &out.rank,
                                        &out.values),
              "XGBoost prediction failed");
    return out;
  }
  DMatrixHandle matrix = nullptr;
  check_xgb(XGDMatrixCreateFromDense(array.c_str(), R"({"missing":NaN,"nthread":1})", &matrix),
            "cannot build an XGBoost DMatrix");
  const int status = XGBoosterPredictFromDMatrix(b.handle, matrix, config.c_str(), &out.shape, &out.rank, &out.values);
  XGDMatrixFree(matrix);
  check_xgb(status, "XGBoost leaf prediction failed");
  return out;
}

// What the model gives per row: predicts one row of missing values.
std::vector<std::int64_t> per_row_dims(const booster& b, std::uint64_t features, int type) {
  std::vector<float> row(std::max<std::uint64_t>(features, 1), std::numeric_limits<float>::quiet_NaN());
  const auto probe = predict(b, row.data(), 1, features, SURGE_TYPE_FP32, type, predict_config(type));
  std::vector<std::int64_t> dims;
  for (bst_ulong i = 1; i < probe.rank; ++i) dims.push_back(static_cast<std::int64_t>(probe.shape[i]));
  if (dims.empty()) dims.push_back(1);
  return dims;
}

std::uint64_t feature_count(const booster& b) {
  bst_ulong features = 0;
  check_xgb(XGBoosterGetNumFeature(b.handle, &features), "cannot read the model's feature count");
  return features;
}

}  // namespace

struct surge_model {
  std::string name;
  std::string file;
  std::string input;
  surge_data_type input_type{SURGE_TYPE_FP32};
  std::string output;
  std::uint64_t features{0};
  std::vector<std::int64_t> row_dims;  // output dims per row
  int predict_type{0};
  std::string config_json;
  std::optional<std::int64_t> threads;
};

struct surge_instance {
  const surge_model* model;
  std::unique_ptr<booster> b;
};

SURGE_BACKEND_DEFINE_COMMON_EXPORTS();

extern "C" SURGE_BACKEND_EXPORT surge_error* surge_model_autocomplete(surge_model_info* raw) {
  return sdk::guard([&] {
    const sdk::model_info info(raw);
    // A config that declares its tensors is checked in surge_model_create.
    if (!info.inputs().empty() && !info.outputs().empty()) return;
    const sdk::parameter_map parameters(info);
    const int type = predict_type_code(parameters);
    const auto b = load_booster(model_file(info), std::nullopt);
    const auto features = static_cast<std::int64_t>(feature_count(*b));
    const bool bare = !info.batched() && info.inputs().empty() && info.outputs().empty();
    if (bare) info.set_max_batch_size(default_max_batch_size);
    const bool batched = bare || info.batched();
    // Without a batch dimension a request carries its rows in front.
    std::vector<std::int64_t> input_dims, output_dims;
    if (!batched) input_dims.push_back(-1), output_dims.push_back(-1);
    input_dims.push_back(features);
    for (auto d : per_row_dims(*b, static_cast<std::uint64_t>(features), type)) output_dims.push_back(d);
    if (info.inputs().empty()) info.add_input("features", SURGE_TYPE_FP32, input_dims);
    if (info.outputs().empty()) {
      const auto name = parameters.get_string("predict_type").value_or("probabilities");
      info.add_output(name, SURGE_TYPE_FP32, output_dims);
    }
  });
}

extern "C" SURGE_BACKEND_EXPORT surge_error* surge_model_create(surge_model_info* raw, surge_model** out) {
  *out = nullptr;
  return sdk::guard([&] {
    const sdk::model_info info(raw);
    const sdk::parameter_map parameters(info);
    parameters.reject_unknown({"predict_type", "threads"});
    auto model = std::make_unique<surge_model>();
    model->name = info.name();
    model->file = model_file(info);
    model->threads = threads_of(parameters);
    const int type = predict_type_code(parameters);
    model->predict_type = type;
    model->config_json = predict_config(type);

    const auto inputs = info.inputs();
    const auto outputs = info.outputs();
    if (inputs.size() != 1 || outputs.size() != 1) {
      sdk::fail(SURGE_ERROR_UNSUPPORTED, "model '" + model->name + "' declares " + std::to_string(inputs.size()) +
                                             " inputs and " + std::to_string(outputs.size()) +
                                             " outputs; an XGBoost model takes one of each");
    }
    const auto& in = inputs.front();
    const auto& result = outputs.front();
    if (in.type != SURGE_TYPE_FP32 && in.type != SURGE_TYPE_FP64) {
      sdk::fail(SURGE_ERROR_UNSUPPORTED, "input '" + std::string(in.name) + "' is " +
                                             std::string(sdk::type_name(in.type)) + "; XGBoost takes FP32 or FP64");
    }
    if (result.type != SURGE_TYPE_FP32) {
      sdk::fail(SURGE_ERROR_UNSUPPORTED, "output '" + std::string(result.name) + "' is " +
                                             std::string(sdk::type_name(result.type)) + "; XGBoost gives FP32");
    }
    model->input = in.name;
    model->input_type = in.type;
    model->output = result.name;

    const auto b = load_booster(model->file, model->threads);
    model->features = feature_count(*b);
    model->row_dims = per_row_dims(*b, model->features, type);

    // Declared shapes against the model's: [rows..., features] in,
    // [rows..., per-row dims] out, the rows as the input has them.
    std::vector<std::int64_t> expected_in(in.dims.begin(), in.dims.end());
    if (!expected_in.empty()) expected_in.back() = static_cast<std::int64_t>(model->features);
    const bool in_ok = !in.dims.empty() && surge::shape_match::fits(expected_in, in.dims);
    if (!in_ok) {
      sdk::fail(SURGE_ERROR_UNSUPPORTED, "input '" + model->input + "': config.pbtxt gives dims " +
                                             sdk::shape_string(in.dims) + ", '" + model->file + "' takes " +
                                             std::to_string(model->features) +
                                             " features per row (dims [..., " + std::to_string(model->features) +
                                             "])");
    }
    std::vector<std::int64_t> expected_out(in.dims.begin(), in.dims.end() - 1);
    expected_out.insert(expected_out.end(), model->row_dims.begin(), model->row_dims.end());
    if (!surge::shape_match::fits(expected_out, result.dims)) {
      sdk::fail(SURGE_ERROR_UNSUPPORTED, "output '" + model->output + "': config.pbtxt gives dims " +
                                             sdk::shape_string(result.dims) + ", '" + model->file + "' gives " +
                                             sdk::shape_string(expected_out));
    }
    info.set_capabilities(SURGE_CAPABILITY_SHORT_EXECUTE);
    *out = model.release();
  });
}

extern "C" SURGE_BACKEND_EXPORT void surge_model_delete(surge_model* model) { delete model; }

extern "C" SURGE_BACKEND_EXPORT surge_error* surge_instance_create(surge_model* model, uint32_t index,
                                                                   surge_instance** out) {
  *out = nullptr;
  return sdk::guard([&] { *out = new surge_instance{model, load_booster(model->file, model->threads)}; });
}

extern "C" SURGE_BACKEND_EXPORT void surge_instance_delete(surge_instance* instance) { delete instance; }

extern "C" SURGE_BACKEND_EXPORT surge_error* surge_instance_execute(surge_instance* instance, surge_request** requests,
                                                                    uint32_t request_count) {
  return sdk::guard([&] {
    const surge_model& model = *instance->model;
    const auto batch = sdk::requests_of(requests, request_count);
    const auto input = sdk::gather(batch, model.input);
    if (input.type != model.input_type) {
      sdk::fail(SURGE_ERROR_INVALID_ARGUMENT, "input '" + model.input + "' is " +
                                                  std::string(sdk::type_name(input.type)) + ", expected " +
                                                  std::string(sdk::type_name(model.input_type)));
    }
    const auto width = sdk::element_size(input.type);
    const auto elements = static_cast<std::uint64_t>(sdk::element_count(input.shape));
    if (input.shape.empty() || elements * width != input.bytes().size()) {
      sdk::fail(SURGE_ERROR_INVALID_ARGUMENT, "input '" + model.input + "' has " +
                                                  std::to_string(input.bytes().size()) + " bytes for shape " +
                                                  sdk::shape_string(input.shape));
    }
    const std::uint64_t rows = model.features == 0 ? 0 : elements / model.features;
    const auto result = predict(*instance->b, input.bytes().data(), rows, model.features, input.type,
                                model.predict_type, model.config_json);
    std::uint64_t per_row = 1;
    for (auto d : model.row_dims) per_row *= static_cast<std::uint64_t>(d);
    std::uint64_t produced = 1;
    for (bst_ulong i = 0; i < result.rank; ++i) produced *= result.shape[i];
    if (produced != rows * per_row) {
      sdk::fail(SURGE_ERROR_INTERNAL, "XGBoost gave " + std::to_string(produced) + " values for " +
                                          std::to_string(rows) + " rows of " + std::to_string(per_row));
    }
    // Output shape: the input's with the feature dimension replaced.
    std::vector<std::int64_t> out_shape(input.shape.begin(), input.shape.end() - 1);
    out_shape.insert(out_shape.end(), model.row_dims.begin(), model.row_dims.end());
    auto responses = sdk::responses_for(batch);
    sdk::scatter(responses, input.rows, model.output, SURGE_TYPE_FP32, out_shape,
                 {reinterpret_cast<const std::byte*>(result.values),
                  static_cast<std::size_t>(produced * sizeof(float))});
    sdk::send_all(responses);
  });
}
