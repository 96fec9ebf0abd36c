// The tokenizer backend on all-MiniLM-L6-v2's tokenizer.json (scripts/install-deps
// unpacks it into .deps/minilm): ids as Hugging Face tokenizers gives them,
// each request of a batch padded to its own longest row, truncation, and the
// errors: a bad request answered alone, a bad config or file failing the load
// naming what was wrong. Token-for-token parity over thousands of texts is
// tests/e2e/test_tokenizer.py's job.
#include "backend_loader/backend_instance.hpp"

#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "support/backend_test_support.hpp"
#include "support/temp_dir.hpp"

namespace surge {
namespace {

namespace fs = std::filesystem;

const fs::path minilm_tokenizer = fs::path(SURGE_SOURCE_DIR) / ".deps" / "minilm" / "tokenizer.json";

// Expected values from Python tokenizers 0.21.0, Tokenizer.from_file on the
// same file with no padding.
const std::vector<std::int64_t> hello_ids = {101, 7592, 1010, 2088, 999, 102};  // "Hello, world!"
const std::vector<std::int64_t> genesis_ids = {101,  1999, 1996, 2927, 2643, 2580, 1996,
                                               6014, 1998, 1996, 3011, 1012, 102};  // Genesis 1:1
const std::string genesis = "In the beginning God created the heaven and the earth.";

tensor text_tensor(const std::vector<std::string>& elements, std::string name = "TEXT") {
  std::size_t size = 0;
  for (const auto& e : elements) size += 4 + e.size();
  tensor t = make_owned_tensor(std::move(name), data_type::bytes, {static_cast<std::int64_t>(elements.size()), 1},
                               size);
  auto* cursor = mutable_data(t);
  for (const auto& e : elements) {
    const auto length = static_cast<std::uint32_t>(e.size());
    std::memcpy(cursor, &length, 4);
    if (!e.empty()) std::memcpy(cursor + 4, e.data(), e.size());
    cursor += 4 + e.size();
  }
  return t;
}

const tensor& output_named(const std::vector<tensor>& outputs, const std::string& name) {
  for (const auto& t : outputs) {
    if (t.name == name) return t;
  }
  throw std::runtime_error("no output " + name);
}

class tokenizer_backend_test : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(fs::exists(minilm_tokenizer)) << minilm_tokenizer.string() << " missing: run scripts/install-deps";
    version_directory_ = scratch_.path() / "minilm_tokenizer" / "1";
    fs::create_directories(version_directory_);
  }

  backend_model_spec spec(std::vector<std::pair<std::string, std::string>> parameters = {}) const {
    backend_model_spec s;
    s.model_name = "minilm_tokenizer";
    s.version = 1;
    s.version_directory = version_directory_;
    s.max_batch_size = 32;
    s.inputs = {{"TEXT", data_type::bytes, {1}}};
    s.outputs = {{"input_ids", data_type::int64, {-1}},
                 {"attention_mask", data_type::int64, {-1}},
                 {"token_type_ids", data_type::int64, {-1}}};
    s.parameters = std::move(parameters);
    if (s.parameters.empty()) s.parameters = {{"tokenizer_file", minilm_tokenizer.string()}};
    return s;
  }

  static std::variant<backend_instance_handle, error> instance(backend_model_spec s) {
    auto library = backend_library::load(SURGE_BACKEND_DIR, "tokenizer");
    if (auto* e = std::get_if<error>(&library)) return *e;
    auto model = backend_model::create(std::get<std::shared_ptr<backend_library>>(std::move(library)), std::move(s));
    if (auto* e = std::get_if<error>(&model)) return *e;
    return backend_instance_handle::create(std::get<std::shared_ptr<backend_model>>(std::move(model)), 0);
  }

  static std::string load_error(backend_model_spec s) {
    auto handle = instance(std::move(s));
    if (auto* e = std::get_if<error>(&handle)) return e->message;
    return "(loaded)";
  }

  testing::temp_dir scratch_{"surge_tokenizer"};
  fs::path version_directory_;
};

TEST_F(tokenizer_backend_test, each_request_is_padded_to_its_own_longest_row) {
  auto handle = instance(spec());
  ASSERT_TRUE(std::holds_alternative<backend_instance_handle>(handle)) << std::get<error>(handle).message;
  std::vector<request_ptr> batch;
  batch.push_back(testing::request_of("two", {text_tensor({"Hello, world!", genesis})}).request);
  batch.push_back(testing::request_of("one", {text_tensor({"Hello, world!"})}).request);
  auto results = testing::execute_batch(std::get<backend_instance_handle>(handle), batch);
  ASSERT_EQ(results.size(), 2u);

  const auto* two = testing::outputs_of(results[0]);
  ASSERT_TRUE(two) << testing::message_of(results[0]);
  const auto& ids = output_named(*two, "input_ids");
  EXPECT_EQ(ids.shape, (std::vector<std::int64_t>{2, 13}));
  std::vector<std::int64_t> expected_ids = hello_ids;
  expected_ids.resize(13, 0);
  expected_ids.insert(expected_ids.end(), genesis_ids.begin(), genesis_ids.end());
  EXPECT_EQ(testing::values_of<std::int64_t>(ids), expected_ids);
  std::vector<std::int64_t> expected_mask(6, 1);
  expected_mask.resize(13, 0);
  expected_mask.resize(26, 1);
  EXPECT_EQ(testing::values_of<std::int64_t>(output_named(*two, "attention_mask")), expected_mask);
  EXPECT_EQ(testing::values_of<std::int64_t>(output_named(*two, "token_type_ids")), std::vector<std::int64_t>(26, 0));

  const auto* one = testing::outputs_of(results[1]);
  ASSERT_TRUE(one) << testing::message_of(results[1]);
  EXPECT_EQ(output_named(*one, "input_ids").shape, (std::vector<std::int64_t>{1, 6}));
  EXPECT_EQ(testing::values_of<std::int64_t>(output_named(*one, "input_ids")), hello_ids);
}

TEST_F(tokenizer_backend_test, long_text_is_truncated_to_max_length_keeping_the_special_tokens) {
  auto handle = instance(spec({{"tokenizer_file", minilm_tokenizer.string()}, {"max_length", "5"}}));
  ASSERT_TRUE(std::holds_alternative<backend_instance_handle>(handle)) << std::get<error>(handle).message;
  auto result = testing::execute_one(std::get<backend_instance_handle>(handle), {text_tensor({genesis})});
  const auto* outputs = testing::outputs_of(result);
  ASSERT_TRUE(outputs) << testing::message_of(result);
  EXPECT_EQ(testing::values_of<std::int64_t>(output_named(*outputs, "input_ids")),
            (std::vector<std::int64_t>{101, 1999, 1996, 2927, 102}));

  // The default, 128, on text of a thousand words.
  auto defaults = instance(spec());
  ASSERT_TRUE(std::holds_alternative<backend_instance_handle>(defaults)) << std::get<error>(defaults).message;
  std::string long_text;
  for (int i = 0; i < 100; ++i) long_text += genesis + " ";
  result = testing::execute_one(std::get<backend_instance_handle>(defaults), {text_tensor({long_text})});
  outputs = testing::outputs_of(result);
  ASSERT_TRUE(outputs) << testing::message_of(result);
  const auto ids = testing::values_of<std::int64_t>(output_named(*outputs, "input_ids"));
  ASSERT_EQ(ids.size(), 128u);
  EXPECT_EQ(ids.front(), 101);
  EXPECT_EQ(ids.back(), 102);
}

TEST_F(tokenizer_backend_test, empty_or_invalid_text_fails_only_its_request_naming_the_input) {
  auto handle = instance(spec());
  ASSERT_TRUE(std::holds_alternative<backend_instance_handle>(handle)) << std::get<error>(handle).message;
  std::vector<request_ptr> batch;
  batch.push_back(testing::request_of("empty", {text_tensor({"Hello, world!", ""})}).request);
  batch.push_back(testing::request_of("good", {text_tensor({"Hello, world!"})}).request);
  batch.push_back(testing::request_of("latin1", {text_tensor({"caf\xe9"})}).request);
  batch.push_back(testing::request_of("surrogate", {text_tensor({"ok", "\xed\xa0\x80"})}).request);
  auto results = testing::execute_batch(std::get<backend_instance_handle>(handle), batch);
  ASSERT_EQ(results.size(), 4u);

  ASSERT_TRUE(std::holds_alternative<error>(results[0]));
  EXPECT_EQ(std::get<error>(results[0]).code, error_code::invalid_argument);
  EXPECT_EQ(std::get<error>(results[0]).message, "input 'TEXT' element 1 is empty");

  const auto* good = testing::outputs_of(results[1]);
  ASSERT_TRUE(good) << testing::message_of(results[1]);
  EXPECT_EQ(testing::values_of<std::int64_t>(output_named(*good, "input_ids")), hello_ids);

  ASSERT_TRUE(std::holds_alternative<error>(results[2]));
  EXPECT_EQ(std::get<error>(results[2]).code, error_code::invalid_argument);
  EXPECT_EQ(std::get<error>(results[2]).message, "input 'TEXT' element 0 is not valid UTF-8 (at byte 3)");

  ASSERT_TRUE(std::holds_alternative<error>(results[3]));
  EXPECT_EQ(std::get<error>(results[3]).message, "input 'TEXT' element 1 is not valid UTF-8 (at byte 0)");
}

TEST_F(tokenizer_backend_test, default_file_is_found_in_the_version_then_the_model_directory) {
  auto s = spec({{"max_length", "16"}});
  EXPECT_NE(load_error(s).find("tokenizer file 'tokenizer.json' not found"), std::string::npos) << load_error(s);

  fs::copy_file(minilm_tokenizer, version_directory_.parent_path() / "tokenizer.json");
  auto handle = instance(s);
  ASSERT_TRUE(std::holds_alternative<backend_instance_handle>(handle)) << std::get<error>(handle).message;

  // The version directory's copy comes first: a broken one there fails.
  testing::write_file(version_directory_ / "tokenizer.json", "{\"version\": \"1.0\"");
  const auto message = load_error(s);
  EXPECT_NE(message.find((version_directory_ / "tokenizer.json").string() + "' does not load"), std::string::npos)
      << message;
}

TEST_F(tokenizer_backend_test, bad_parameters_or_tensors_fail_the_load_naming_them) {
  EXPECT_NE(load_error(spec({{"tokenizer_file", minilm_tokenizer.string()}, {"max_length", "0"}}))
                .find("parameter 'max_length' must be 1..512, got 0"),
            std::string::npos);
  EXPECT_NE(load_error(spec({{"tokenizer_file", minilm_tokenizer.string()}, {"max_length", "513"}}))
                .find("parameter 'max_length'"),
            std::string::npos);
  EXPECT_NE(load_error(spec({{"tokenizer_file", "nowhere.json"}})).find("'nowhere.json' not found"),
            std::string::npos);
  EXPECT_NE(load_error(spec({{"tokenizer_file", minilm_tokenizer.string()}, {"lowercase", "true"}}))
                .find("unknown parameter 'lowercase'"),
            std::string::npos);

  auto s = spec();
  s.outputs.push_back({"offsets", data_type::int64, {-1}});
  EXPECT_NE(load_error(s).find("output 'offsets'"), std::string::npos) << load_error(s);
  s = spec();
  s.outputs[0].type = data_type::int32;
  EXPECT_NE(load_error(s).find("'input_ids' must be TYPE_INT64 dims [-1]"), std::string::npos) << load_error(s);
  s = spec();
  s.inputs[0].type = data_type::fp32;
  EXPECT_NE(load_error(s).find("TYPE_STRING"), std::string::npos) << load_error(s);
  s = spec();
  s.max_batch_size = 0;
  EXPECT_NE(load_error(s).find("max_batch_size"), std::string::npos) << load_error(s);

  // Without token_type_ids the model loads and leaves that output out.
  s = spec();
  s.outputs.pop_back();
  auto handle = instance(s);
  ASSERT_TRUE(std::holds_alternative<backend_instance_handle>(handle)) << std::get<error>(handle).message;
  auto result = testing::execute_one(std::get<backend_instance_handle>(handle), {text_tensor({"Hello, world!"})});
  const auto* outputs = testing::outputs_of(result);
  ASSERT_TRUE(outputs) << testing::message_of(result);
  EXPECT_EQ(outputs->size(), 2u);
}

TEST_F(tokenizer_backend_test, a_file_that_is_not_a_tokenizer_fails_the_load_naming_it) {
  const auto bogus = scratch_.path() / "bogus.json";
  testing::write_file(bogus, "{\"model\": {\"type\": \"NoSuchModel\"}}");
  const auto message = load_error(spec({{"tokenizer_file", bogus.string()}}));
  EXPECT_NE(message.find("tokenizer file '" + bogus.string() + "' does not load: "), std::string::npos) << message;
}

}  // namespace
}  // namespace surge
