// The onnxruntime backend's execute of one batch against a bare ONNX Runtime
// loop on the same model, with the same session options (one intra-op
// thread, ORT_ENABLE_ALL). Not a test: it prints figures.
//
//   build/release/bench/onnxruntime/surge_bench_onnxruntime [model.onnx] [requests per batch] [rows per request]
//       [batches]
//
// Bare: each iteration wraps a ready [rows, 4] FP32 buffer in an Ort::Value,
// runs the session and reads both outputs. Backend: each iteration is one
// surge_instance_execute of `requests` requests of `rows` rows each through the server's
// backend loader, as an instance thread runs it: gather the rows, the same
// Run(), and one response per request with its rows of both outputs.
#include "backend_loader/backend_instance.hpp"

#include <onnxruntime_cxx_api.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "support/backend_test_support.hpp"

namespace {

using clock_type = std::chrono::steady_clock;

// Median of `rounds` timings of `batches` iterations, in microseconds per iteration.
template <class Body>
double median_us(int rounds, int batches, Body&& body) {
  std::vector<double> per_batch;
  for (int r = 0; r < rounds; ++r) {
    const auto start = clock_type::now();
    for (int i = 0; i < batches; ++i) body();
    const std::chrono::duration<double, std::micro> spent = clock_type::now() - start;
    per_batch.push_back(spent.count() / batches);
  }
  std::sort(per_batch.begin(), per_batch.end());
  return per_batch[per_batch.size() / 2];
}

std::vector<float> rows_of(int rows) {
  const float flower[4] = {6.3f, 3.3f, 6.0f, 2.5f};
  std::vector<float> out;
  for (int r = 0; r < rows; ++r) out.insert(out.end(), flower, flower + 4);
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  const std::filesystem::path file = argc > 1 ? argv[1] : "model_repository/iris_onnx/1/model.onnx";
  const int requests = argc > 2 ? std::atoi(argv[2]) : 64;
  const int rows = argc > 3 ? std::atoi(argv[3]) : 1;
  const int batches = argc > 4 ? std::atoi(argv[4]) : 2000;
  const int rounds = 9;
  if (!std::filesystem::exists(file)) {
    std::fprintf(stderr, "no %s: run scripts/make_models.py\n", file.c_str());
    return 1;
  }

  // Bare ONNX Runtime.
  Ort::Env env(ORT_LOGGING_LEVEL_WARNING, "bench");
  Ort::SessionOptions options;
  options.SetIntraOpNumThreads(1);
  options.SetGraphOptimizationLevel(GraphOptimizationLevel::ORT_ENABLE_ALL);
  Ort::Session session(env, file.c_str(), options);
  const auto memory = Ort::MemoryInfo::CreateCpu(OrtDeviceAllocator, OrtMemTypeCPU);
  auto data = rows_of(requests * rows);
  const std::int64_t shape[2] = {requests * rows, 4};
  const char* input_names[] = {"features"};
  const char* output_names[] = {"label", "probabilities"};
  float checksum = 0;
  const auto bare = [&] {
    auto input = Ort::Value::CreateTensor<float>(memory, data.data(), data.size(), shape, 2);
    auto outputs = session.Run(Ort::RunOptions{nullptr}, input_names, &input, 1, output_names, 2);
    checksum += outputs[1].GetTensorData<float>()[2];
  };

  // The backend through the server's loader.
  auto loaded = surge::backend_library::load(SURGE_BACKEND_DIR, "onnxruntime");
  if (auto* e = std::get_if<surge::error>(&loaded)) {
    std::fprintf(stderr, "%s\n", e->message.c_str());
    return 1;
  }
  surge::backend_model_spec spec;
  spec.model_name = "iris_onnx";
  spec.version = 1;
  spec.version_directory = file.parent_path();
  spec.default_model_filename = file.filename().string();
  spec.max_batch_size = static_cast<std::uint32_t>(std::max(requests * rows, 1));
  spec.inputs = {{"features", surge::data_type::fp32, {4}}};
  spec.outputs = {{"label", surge::data_type::int64, {1}}, {"probabilities", surge::data_type::fp32, {3}}};
  spec.parameters = {{"intra_op_threads", "1"}};
  auto model = surge::backend_model::create(std::get<std::shared_ptr<surge::backend_library>>(loaded), spec);
  if (auto* e = std::get_if<surge::error>(&model)) {
    std::fprintf(stderr, "%s\n", e->message.c_str());
    return 1;
  }
  auto instance =
      surge::backend_instance_handle::create(std::get<std::shared_ptr<surge::backend_model>>(std::move(model)), 0);
  if (auto* e = std::get_if<surge::error>(&instance)) {
    std::fprintf(stderr, "%s\n", e->message.c_str());
    return 1;
  }
  auto& handle = std::get<surge::backend_instance_handle>(instance);
  std::vector<surge::request_ptr> batch;
  const auto request_rows = rows_of(rows);
  for (int i = 0; i < requests; ++i) {
    batch.push_back(surge::testing::request_of(
                        "r" + std::to_string(i),
                        {surge::testing::make_input("features", surge::data_type::fp32, {rows, 4}, request_rows)})
                        .request);
  }
  const auto backend = [&] {
    surge::batch_outcome outcome;
    handle.execute(batch, outcome);
    if (outcome.failed || outcome.answers.size() != batch.size()) std::abort();
  };

  // Warm both, then alternate rounds so drifting machine load hits both alike.
  for (int i = 0; i < 200; ++i) bare(), backend();
  std::vector<double> bare_us, backend_us;
  for (int r = 0; r < rounds; ++r) {
    bare_us.push_back(median_us(1, batches, bare));
    backend_us.push_back(median_us(1, batches, backend));
  }
  std::sort(bare_us.begin(), bare_us.end());
  std::sort(backend_us.begin(), backend_us.end());
  const double b = bare_us[rounds / 2];
  const double s = backend_us[rounds / 2];
  std::printf("model %s, %d requests of %d rows per batch, %d batches x %d rounds, 1 intra-op thread\n",
              file.c_str(), requests, rows, batches, rounds);
  std::printf("bare ONNX Runtime Run:      %8.2f us per batch (median of rounds)\n", b);
  std::printf("backend execute:            %8.2f us per batch (median of rounds)\n", s);
  std::printf("backend / bare:             %8.3f\n", s / b);
  return checksum > 0 ? 0 : 2;
}
