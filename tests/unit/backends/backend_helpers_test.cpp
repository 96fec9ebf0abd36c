// The C++ layer backends are written with, exercised without a backend.
#include <surge/backend_helpers.hpp>

#include <gtest/gtest.h>

#include <cstring>
#include <memory>

namespace {

namespace sdk = surge::backend_sdk;

struct owned_error {
  void operator()(surge_error* e) const {
    if (e != sdk::out_of_memory_error()) delete e;
  }
};
using error_ptr = std::unique_ptr<surge_error, owned_error>;

surge_model_spec spec_with(const std::vector<surge_parameter>& parameters) {
  surge_model_spec spec{};
  spec.parameters = parameters.data();
  spec.parameter_count = static_cast<std::uint32_t>(parameters.size());
  return spec;
}

TEST(backend_helpers_test, guard_turns_exceptions_into_errors) {
  EXPECT_EQ(sdk::guard([] {}), nullptr);

  error_ptr typed(sdk::guard([] { sdk::fail(SURGE_ERROR_INVALID_ARGUMENT, "bad input 'x'"); }));
  ASSERT_NE(typed, nullptr);
  EXPECT_EQ(typed->code, SURGE_ERROR_INVALID_ARGUMENT);
  EXPECT_EQ(typed->message, "bad input 'x'");

  error_ptr plain(sdk::guard([] { throw std::runtime_error("boom"); }));
  ASSERT_NE(plain, nullptr);
  EXPECT_EQ(plain->code, SURGE_ERROR_INTERNAL);
  EXPECT_EQ(plain->message, "boom");

  error_ptr unknown(sdk::guard([] { throw 42; }));
  ASSERT_NE(unknown, nullptr);
  EXPECT_EQ(unknown->code, SURGE_ERROR_INTERNAL);
}

TEST(backend_helpers_test, parameters_parse_typed_values) {
  const std::vector<surge_parameter> raw = {
      {"threads", "4"}, {"ratio", "0.25"}, {"enabled", "true"}, {"name", "resnet"}};
  const sdk::parameter_map parameters(spec_with(raw));
  EXPECT_EQ(parameters.get_int("threads"), 4);
  EXPECT_EQ(parameters.get_double("ratio"), 0.25);
  EXPECT_EQ(parameters.get_bool("enabled"), true);
  EXPECT_EQ(parameters.get_string("name"), "resnet");
  EXPECT_EQ(parameters.get_int("absent"), std::nullopt);
  EXPECT_NO_THROW(parameters.reject_unknown({"threads", "ratio", "enabled", "name"}));
}

TEST(backend_helpers_test, malformed_and_unknown_parameters_name_the_key) {
  const std::vector<surge_parameter> raw = {{"threads", "4x"}, {"ratio", ""}, {"enabled", "yes"}};
  const sdk::parameter_map parameters(spec_with(raw));
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

TEST(backend_helpers_test, elements_checks_type_size_and_alignment) {
  alignas(float) unsigned char bytes[5 * sizeof(float)] = {};
  const float values[4] = {1, 2, 3, 4};
  std::memcpy(bytes, values, sizeof(values));
  const std::int64_t shape[] = {2, 2};
  surge_tensor t{"x", SURGE_TYPE_FP32, shape, 2, bytes, sizeof(values)};

  const auto view = sdk::elements<float>(t);
  ASSERT_EQ(view.size(), 4u);
  EXPECT_EQ(view[3], 4.0f);

  EXPECT_THROW(sdk::elements<double>(t), sdk::backend_exception);  // wrong width
  surge_tensor short_data = t;
  short_data.byte_size = 12;
  EXPECT_THROW(sdk::elements<float>(short_data), sdk::backend_exception);
  surge_tensor misaligned = t;
  misaligned.data = bytes + 1;
  EXPECT_THROW(sdk::elements<float>(misaligned), sdk::backend_exception);
}

TEST(backend_helpers_test, refused_output_allocation_names_the_output) {
  surge_output_allocator refuse = [](void*, const char*, surge_data_type, const int64_t*, uint32_t,
                                     uint64_t) -> void* { return nullptr; };
  const std::int64_t shape[] = {1, 3};
  try {
    sdk::allocate_output(refuse, nullptr, "scores", SURGE_TYPE_FP32, shape, 12);
    FAIL() << "no exception";
  } catch (const sdk::backend_exception& e) {
    EXPECT_NE(std::string(e.what()).find("'scores'"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("[1, 3]"), std::string::npos) << e.what();
  }
}

}  // namespace
