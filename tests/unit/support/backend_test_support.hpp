#pragma once

// Runs requests through a backend_instance_handle the way in_process_instance
// does, without a thread, for tests of backends and of the loader.
#include <cstring>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "backend_loader/backend_instance.hpp"
#include "support/test_support.hpp"

namespace surge::testing {

// How one request came out: its outputs, or its error.
using request_result = std::variant<std::vector<tensor>, error>;

template <class T>
tensor make_input(std::string name, data_type type, std::vector<std::int64_t> shape, const std::vector<T>& values) {
  tensor t = make_owned_tensor(std::move(name), type, std::move(shape), values.size() * sizeof(T));
  if (!values.empty()) std::memcpy(mutable_data(t), values.data(), values.size() * sizeof(T));
  return t;
}

template <class T>
std::vector<T> values_of(const tensor& t) {
  std::vector<T> out(t.data.size() / sizeof(T));
  if (!out.empty()) std::memcpy(out.data(), t.data.data(), out.size() * sizeof(T));
  return out;
}

// A request of `inputs` with its own parameters and a recording sink.
inline made_request request_of(std::string id, std::vector<tensor> inputs,
                               std::vector<std::pair<std::string, std::string>> parameters = {}) {
  auto sink = std::make_shared<recording_sink>();
  auto request = std::make_unique<inference_request>();
  request->id = std::move(id);
  request->model = "test_model";
  request->inputs = std::move(inputs);
  request->parameters = std::move(parameters);
  request->sink = sink;
  return {std::move(request), sink};
}

inline request_result result_of(batch_outcome::answer& answer) {
  if (auto* response = std::get_if<inference_response>(&answer)) return std::move(response->outputs);
  if (auto* failure = std::get_if<error>(&answer)) return std::move(*failure);
  return make_error(error_code::internal, "the backend took the request over");
}

// Runs the batch through `handle`; one result per request, in order.
inline std::vector<request_result> execute_batch(backend_instance_handle& handle, std::vector<request_ptr>& batch,
                                                 bool* failed = nullptr) {
  batch_outcome outcome;
  handle.execute(batch, outcome);
  if (failed != nullptr) *failed = outcome.failed;
  std::vector<request_result> results;
  for (auto& answer : outcome.answers) results.push_back(result_of(answer));
  return results;
}

// Runs one request of `inputs` through `handle`.
inline request_result execute_one(backend_instance_handle& handle, std::vector<tensor> inputs,
                                  std::vector<std::pair<std::string, std::string>> parameters = {}) {
  std::vector<request_ptr> batch;
  batch.push_back(request_of("one", std::move(inputs), std::move(parameters)).request);
  return std::move(execute_batch(handle, batch).front());
}

inline const std::vector<tensor>* outputs_of(const request_result& result) {
  return std::get_if<std::vector<tensor>>(&result);
}

inline std::string message_of(const request_result& result) {
  const auto* failure = std::get_if<error>(&result);
  return failure ? failure->message : std::string("(succeeded)");
}

}  // namespace surge::testing
