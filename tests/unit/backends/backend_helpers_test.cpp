// The C++ layer backends are written with, exercised against the server's
// own handles (this test binary exports the server API as `surge` does).
#include <surge/backend_helpers.hpp>

#include <gtest/gtest.h>

#include <cstring>
#include <memory>

#include "backend_loader/abi_handles.hpp"
#include "support/backend_test_support.hpp"

namespace {

namespace sdk = surge::backend_sdk;
using surge::testing::make_input;
using surge::testing::values_of;

struct owned_error {
  void operator()(surge_error* e) const { surge_error_delete(e); }
};
using error_ptr = std::unique_ptr<surge_error, owned_error>;

// Requests as a backend's execute sees them, built from the server's objects.
struct server_batch {
  explicit server_batch(std::uint32_t max_batch_size = 8) {
    spec.model_name = "m";
    spec.max_batch_size = max_batch_size;
    spec.outputs = {{"OUT", surge::data_type::fp32, {-1}}, {"TEXT", surge::data_type::bytes, {-1}}};
    context.spec = &spec;
    context.backend_name = &backend;
  }

  surge_request* add(std::vector<surge::tensor> inputs) {
    auto& request = requests.emplace_back(std::make_unique<surge::inference_request>());
    request->id = "r" + std::to_string(requests.size());
    request->inputs = std::move(inputs);
    answers.emplace_back();
    auto& raw = handles.emplace_back(std::make_unique<surge_request>());
    raw->request = request.get();
    raw->context = &context;
    pointers.push_back(raw.get());
    return raw.get();
  }

  // Call after the last add(): answers must not move while requests point at them.
  void seal() {
    for (std::size_t i = 0; i < handles.size(); ++i) handles[i]->answer = &answers[i];
  }

  const surge::inference_response& response(std::size_t i) const {
    return std::get<surge::inference_response>(answers[i]);
  }

  std::string backend{"test"};
  surge::backend_model_spec spec;
  surge::abi::execution_context context;
  std::vector<std::unique_ptr<surge::inference_request>> requests;
  std::vector<std::unique_ptr<surge_request>> handles;
  std::vector<surge::batch_outcome::answer> answers;
  std::vector<surge_request*> pointers;
};

TEST(backend_helpers_test, guard_turns_exceptions_into_server_errors) {
  EXPECT_EQ(sdk::guard([] {}), nullptr);

  error_ptr typed(sdk::guard([] { sdk::fail(SURGE_ERROR_INVALID_ARGUMENT, "bad input 'x'"); }));
  ASSERT_NE(typed, nullptr);
  EXPECT_EQ(surge_error_code_of(typed.get()), SURGE_ERROR_INVALID_ARGUMENT);
  EXPECT_STREQ(surge_error_message(typed.get()), "bad input 'x'");

  error_ptr plain(sdk::guard([] { throw std::runtime_error("boom"); }));
  ASSERT_NE(plain, nullptr);
  EXPECT_EQ(surge_error_code_of(plain.get()), SURGE_ERROR_INTERNAL);
  EXPECT_STREQ(surge_error_message(plain.get()), "boom");

  error_ptr unknown(sdk::guard([] { throw 42; }));
  ASSERT_NE(unknown, nullptr);
  EXPECT_EQ(surge_error_code_of(unknown.get()), SURGE_ERROR_INTERNAL);
}

TEST(backend_helpers_test, check_rethrows_a_server_error_and_releases_it) {
  try {
    sdk::check(surge_error_new(SURGE_ERROR_UNAVAILABLE, "busy"));
    FAIL() << "no exception";
  } catch (const sdk::backend_exception& e) {
    EXPECT_EQ(e.code(), SURGE_ERROR_UNAVAILABLE);
    EXPECT_STREQ(e.what(), "busy");
  }
  EXPECT_NO_THROW(sdk::check(nullptr));
}

surge_model_info info_with(surge::backend_model_spec& spec) {
  surge_model_info info;
  info.spec = &spec;
  return info;
}

TEST(backend_helpers_test, parameters_parse_typed_values) {
  surge::backend_model_spec spec;
  spec.parameters = {{"threads", "4"}, {"ratio", "0.25"}, {"enabled", "true"}, {"name", "resnet"}};
  auto info = info_with(spec);
  const sdk::parameter_map parameters(&info);
  EXPECT_EQ(parameters.get_int("threads"), 4);
  EXPECT_EQ(parameters.get_double("ratio"), 0.25);
  EXPECT_EQ(parameters.get_bool("enabled"), true);
  EXPECT_EQ(parameters.get_string("name"), "resnet");
  EXPECT_EQ(parameters.get_int("absent"), std::nullopt);
  EXPECT_NO_THROW(parameters.reject_unknown({"threads", "ratio", "enabled", "name"}));
}

TEST(backend_helpers_test, malformed_and_unknown_parameters_name_the_key) {
  surge::backend_model_spec spec;
  spec.parameters = {{"threads", "4x"}, {"ratio", ""}, {"enabled", "yes"}};
  auto info = info_with(spec);
  const sdk::parameter_map parameters(&info);
  auto message_of = [](auto&& body) -> std::string {
    try {
      body();
    } catch (const sdk::backend_exception& e) {
      EXPECT_EQ(e.code(), SURGE_ERROR_UNSUPPORTED);
      return e.what();
    }
    return "no exception";
  };
  EXPECT_NE(message_of([&] { parameters.get_int("threads"); }).find("'threads'"), std::string::npos);
  EXPECT_NE(message_of([&] { parameters.get_double("ratio"); }).find("'ratio'"), std::string::npos);
  EXPECT_NE(message_of([&] { parameters.get_bool("enabled"); }).find("'enabled'"), std::string::npos);
  EXPECT_NE(message_of([&] { parameters.reject_unknown({"threads", "ratio"}); }).find("'enabled'"),
            std::string::npos);
}

TEST(backend_helpers_test, model_info_reads_the_declared_tensors) {
  surge::backend_model_spec spec;
  spec.model_name = "m";
  spec.max_batch_size = 4;
  spec.inputs = {{"x", surge::data_type::int64, {3, -1}}};
  spec.outputs = {{"y", surge::data_type::fp32, {2}}};
  auto raw = info_with(spec);
  const sdk::model_info info(&raw);
  EXPECT_EQ(info.name(), "m");
  EXPECT_TRUE(info.batched());
  EXPECT_EQ(info.model_filename("model.pt"), "model.pt");
  const auto inputs = info.inputs();
  ASSERT_EQ(inputs.size(), 1u);
  EXPECT_EQ(inputs[0].name, "x");
  EXPECT_EQ(inputs[0].type, SURGE_TYPE_INT64);
  EXPECT_EQ(std::vector<std::int64_t>(inputs[0].dims.begin(), inputs[0].dims.end()),
            (std::vector<std::int64_t>{3, -1}));
  // Autocomplete setters outside surge_model_autocomplete are refused.
  EXPECT_THROW(info.set_max_batch_size(8), sdk::backend_exception);
}

TEST(backend_helpers_test, elements_check_type_size_and_alignment) {
  alignas(float) std::byte bytes[5 * sizeof(float)] = {};
  const float values[4] = {1, 2, 3, 4};
  std::memcpy(bytes, values, sizeof(values));
  const std::int64_t shape[] = {2, 2};
  const std::span<const std::byte> data(bytes, sizeof(values));

  const auto view = sdk::typed_elements<float>("x", SURGE_TYPE_FP32, shape, data);
  ASSERT_EQ(view.size(), 4u);
  EXPECT_EQ(view[3], 4.0f);

  EXPECT_THROW(sdk::typed_elements<double>("x", SURGE_TYPE_FP32, shape, data), sdk::backend_exception);
  EXPECT_THROW(sdk::typed_elements<float>("x", SURGE_TYPE_FP32, shape, data.first(12)), sdk::backend_exception);
  EXPECT_THROW(sdk::typed_elements<float>("x", SURGE_TYPE_FP32, shape, std::span(bytes + 1, sizeof(values))),
               sdk::backend_exception);
}

TEST(backend_helpers_test, request_view_reads_inputs_and_parameters) {
  server_batch batch;
  auto* raw = batch.add({make_input<float>("IN", surge::data_type::fp32, {1, 2}, {1.5f, 2.5f})});
  batch.requests.back()->parameters = {{"mode", "fast"}};
  batch.requests.back()->requested_outputs = {"OUT"};
  batch.seal();
  const sdk::request_view request(raw);
  EXPECT_EQ(request.input_count(), 1u);
  EXPECT_EQ(request.input("IN").elements<float>()[1], 2.5f);
  EXPECT_FALSE(request.find_input("OTHER"));
  EXPECT_EQ(request.parameter("mode"), "fast");
  EXPECT_EQ(request.parameter("absent"), std::nullopt);
  EXPECT_TRUE(request.wants_output("OUT"));
  EXPECT_FALSE(request.wants_output("TEXT"));
  EXPECT_FALSE(request.cancelled());
  batch.requests.back()->cancellation->cancel();
  EXPECT_TRUE(request.cancelled());
  try {
    (void)request.input("OTHER");
    FAIL() << "no exception";
  } catch (const sdk::backend_exception& e) {
    EXPECT_EQ(e.code(), SURGE_ERROR_INVALID_ARGUMENT);
    EXPECT_NE(std::string(e.what()).find("'OTHER'"), std::string::npos) << e.what();
  }
}

TEST(backend_helpers_test, refused_output_names_the_output) {
  server_batch batch;
  auto* raw = batch.add({make_input<float>("IN", surge::data_type::fp32, {1, 3}, {1, 2, 3})});
  batch.seal();
  sdk::response response(raw);
  const std::int64_t shape[] = {1, 3};
  try {
    response.output("scores", SURGE_TYPE_FP32, shape, 12);
    FAIL() << "no exception";
  } catch (const sdk::backend_exception& e) {
    EXPECT_NE(std::string(e.what()).find("'scores'"), std::string::npos) << e.what();
  }
}

TEST(backend_helpers_test, answer_keeps_a_failure_to_its_request) {
  server_batch batch;
  auto* good = batch.add({make_input<float>("IN", surge::data_type::fp32, {1, 1}, {1})});
  auto* bad = batch.add({make_input<float>("IN", surge::data_type::fp32, {1, 1}, {2})});
  batch.seal();
  for (auto* raw : {good, bad}) {
    sdk::answer(raw, [&](const sdk::request_view& request, sdk::response& response) {
      if (raw == bad) sdk::fail(SURGE_ERROR_INVALID_ARGUMENT, "row 2 is bad");
      const auto input = request.input("IN");
      response.output_copy("OUT", SURGE_TYPE_FP32, input.shape(), input.bytes());
      response.output_copy("TEXT", SURGE_TYPE_BYTES, std::vector<std::int64_t>{1, 0}, {});
    });
  }
  EXPECT_EQ(values_of<float>(batch.response(0).outputs.at(0)), (std::vector<float>{1}));
  ASSERT_TRUE(std::holds_alternative<surge::error>(batch.answers[1]));
  EXPECT_EQ(std::get<surge::error>(batch.answers[1]).code, surge::error_code::invalid_argument);
  EXPECT_EQ(std::get<surge::error>(batch.answers[1]).message, "row 2 is bad");
}

TEST(backend_helpers_test, gather_concatenates_and_scatter_splits_per_request) {
  server_batch batch;
  batch.add({make_input<float>("IN", surge::data_type::fp32, {1, 2}, {1, 2})});
  batch.add({make_input<float>("IN", surge::data_type::fp32, {2, 2}, {3, 4, 5, 6})});
  batch.seal();
  const auto requests = sdk::requests_of(batch.pointers.data(), 2);
  const auto gathered = sdk::gather(requests, "IN");
  EXPECT_EQ(gathered.shape, (std::vector<std::int64_t>{3, 2}));
  EXPECT_EQ(gathered.rows, (std::vector<std::int64_t>{1, 2}));
  const auto values = gathered.elements<float>();
  EXPECT_EQ(std::vector<float>(values.begin(), values.end()), (std::vector<float>{1, 2, 3, 4, 5, 6}));

  auto responses = sdk::responses_for(requests);
  sdk::scatter(responses, gathered.rows, "OUT", SURGE_TYPE_FP32, gathered.shape, gathered.bytes());
  for (auto& r : responses) r.output_copy("TEXT", SURGE_TYPE_BYTES, std::vector<std::int64_t>{1, 0}, {});
  sdk::send_all(responses);
  EXPECT_EQ(batch.response(0).outputs.at(0).shape, (std::vector<std::int64_t>{1, 2}));
  EXPECT_EQ(values_of<float>(batch.response(1).outputs.at(0)), (std::vector<float>{3, 4, 5, 6}));
}

TEST(backend_helpers_test, gather_of_one_passes_aligned_bytes_through_and_copies_misaligned_ones) {
  server_batch batch;
  auto aligned = make_input<float>("IN", surge::data_type::fp32, {1, 2}, {1, 2});
  // The same values one byte into a buffer: a binary request section may put them there.
  auto storage = std::make_shared<std::vector<std::byte>>(9);
  std::memcpy(storage->data() + 1, aligned.data.data(), 8);
  surge::tensor misaligned = aligned;
  misaligned.data = std::span<const std::byte>(storage->data() + 1, 8);
  misaligned.owner = storage;
  batch.add({aligned});
  batch.add({misaligned});
  batch.seal();

  const auto first = sdk::gather(sdk::requests_of(&batch.pointers[0], 1), "IN");
  EXPECT_EQ(first.bytes().data(), aligned.data.data());
  const auto second = sdk::gather(sdk::requests_of(&batch.pointers[1], 1), "IN");
  EXPECT_NE(second.bytes().data(), misaligned.data.data());
  EXPECT_EQ(reinterpret_cast<std::uintptr_t>(second.bytes().data()) % alignof(float), 0u);
  EXPECT_EQ(second.elements<float>()[1], 2.0f);
}

TEST(backend_helpers_test, scatter_splits_bytes_on_element_boundaries_and_checks_rows) {
  server_batch batch;
  batch.add({make_input<float>("IN", surge::data_type::fp32, {1, 1}, {0})});
  batch.add({make_input<float>("IN", surge::data_type::fp32, {2, 1}, {0, 0})});
  batch.seal();
  // Three BYTES elements: "a", "bc", "" — rows of 1 and 2.
  std::vector<std::byte> raw;
  for (std::string s : {"a", "bc", ""}) {
    std::uint32_t n = static_cast<std::uint32_t>(s.size());
    const auto* p = reinterpret_cast<const std::byte*>(&n);
    raw.insert(raw.end(), p, p + 4);
    for (char c : s) raw.push_back(static_cast<std::byte>(c));
  }
  const auto requests = sdk::requests_of(batch.pointers.data(), 2);
  const std::int64_t rows[] = {1, 2};
  auto responses = sdk::responses_for(requests);
  sdk::scatter(responses, rows, "TEXT", SURGE_TYPE_BYTES, std::vector<std::int64_t>{3, 1}, raw);
  const std::int64_t wrong[] = {2, 1};
  EXPECT_THROW(sdk::scatter(responses, rows, "OUT", SURGE_TYPE_FP32, wrong, std::vector<std::byte>(8)),
               sdk::backend_exception);
  sdk::scatter(responses, rows, "OUT", SURGE_TYPE_FP32, std::vector<std::int64_t>{3, 1}, std::vector<std::byte>(12));
  sdk::send_all(responses);
  // The server hands outputs over in declared order: OUT, then TEXT.
  EXPECT_EQ(batch.response(0).outputs.at(1).name, "TEXT");
  EXPECT_EQ(batch.response(0).outputs.at(1).data.size(), 5u);
  EXPECT_EQ(batch.response(1).outputs.at(1).data.size(), 10u);
  EXPECT_EQ(batch.response(1).outputs.at(1).shape, (std::vector<std::int64_t>{2, 1}));
}

}  // namespace
