// Drives the generative ABI of the torchscript_lm backend directly (dlopen,
// no scheduler; the server's handles and errors from this test binary, which
// exports them as the server does) with the demo model kjv_lm that
// scripts/train_lm.py writes.
// libtorch cannot author TorchScript from C++, so without the demo repository
// these tests skip, saying how to make it.
#include <surge/backend.h>

#include "backend_loader/abi_handles.hpp"
#include "support/temp_dir.hpp"

#include <dlfcn.h>
#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

namespace {

std::filesystem::path model_directory() {
  const std::filesystem::path repository =
      std::getenv("SURGE_MODEL_REPOSITORY") ? std::getenv("SURGE_MODEL_REPOSITORY")
                                            : std::filesystem::path(SURGE_SOURCE_DIR) / "model_repository";
  return repository / "kjv_lm" / "1";
}

// The plugin's exports, resolved by name as the server does.
struct lm_plugin {
  void* handle{nullptr};
  decltype(&surge_backend_api_version) api_version{};
  decltype(&surge_model_create) model_create{};
  decltype(&surge_model_delete) model_delete{};
  decltype(&surge_instance_create) instance_create{};
  decltype(&surge_instance_delete) instance_delete{};
  decltype(&surge_instance_execute) instance_execute{};
  decltype(&surge_generation_info_get) info_get{};
  decltype(&surge_generation_tokenize) tokenize{};
  decltype(&surge_generation_detokenize) detokenize{};
  decltype(&surge_sequence_prefill) prefill{};
  decltype(&surge_sequence_step) step{};
  decltype(&surge_sequence_release) release{};
};

template <class F>
void resolve(void* handle, const char* name, F& out) {
  out = reinterpret_cast<F>(dlsym(handle, name));
  ASSERT_NE(out, nullptr) << "the plugin does not export " << name;
}

// What a call returned: no error, or its code and message.
struct outcome {
  bool ok{true};
  surge_error_code code{};
  std::string message;
};

class torchscript_lm_backend_test : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!std::filesystem::exists(model_directory() / "model.pt")) {
      GTEST_SKIP() << "no " << (model_directory() / "model.pt").string() << "; run `make models`";
    }
    const auto path = std::filesystem::path(SURGE_BACKEND_DIR) / "libsurge_backend_torchscript_lm.so";
    plugin_.handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    ASSERT_NE(plugin_.handle, nullptr) << dlerror();
    resolve(plugin_.handle, "surge_backend_api_version", plugin_.api_version);
    resolve(plugin_.handle, "surge_model_create", plugin_.model_create);
    resolve(plugin_.handle, "surge_model_delete", plugin_.model_delete);
    resolve(plugin_.handle, "surge_instance_create", plugin_.instance_create);
    resolve(plugin_.handle, "surge_instance_delete", plugin_.instance_delete);
    resolve(plugin_.handle, "surge_instance_execute", plugin_.instance_execute);
    resolve(plugin_.handle, "surge_generation_info_get", plugin_.info_get);
    resolve(plugin_.handle, "surge_generation_tokenize", plugin_.tokenize);
    resolve(plugin_.handle, "surge_generation_detokenize", plugin_.detokenize);
    resolve(plugin_.handle, "surge_sequence_prefill", plugin_.prefill);
    resolve(plugin_.handle, "surge_sequence_step", plugin_.step);
    resolve(plugin_.handle, "surge_sequence_release", plugin_.release);
    if (HasFatalFailure()) return;

    std::uint32_t major = 0, minor = 0;
    plugin_.api_version(&major, &minor);
    ASSERT_EQ(major, SURGE_BACKEND_API_MAJOR);

    auto created = create_model(model_directory(), "8", &model_);
    ASSERT_TRUE(created.ok) << created.message;
    created = check(plugin_.instance_create(model_, 0, &instance_));
    ASSERT_TRUE(created.ok) << created.message;
    surge_generation_info reported;
    created = check(plugin_.info_get(model_, &reported));
    ASSERT_TRUE(created.ok) << created.message;
    info_.max_sequences = static_cast<std::uint32_t>(reported.values.max_sequences);
    info_.max_context = static_cast<std::uint32_t>(reported.values.max_context);
    info_.vocab_size = static_cast<std::uint32_t>(reported.values.vocab_size);
    info_.eos_token = static_cast<std::int32_t>(reported.values.eos_token);
    info_.bos_token = static_cast<std::int32_t>(reported.values.bos_token);
  }

  void TearDown() override {
    if (instance_ != nullptr) plugin_.instance_delete(instance_);
    if (model_ != nullptr) plugin_.model_delete(model_);
    if (plugin_.handle != nullptr) dlclose(plugin_.handle);
  }

  outcome check(surge_error* error) {
    if (error == nullptr) return {};
    outcome out{false, surge_error_code_of(error), surge_error_message(error)};
    surge_error_delete(error);
    return out;
  }

  outcome create_model(const std::filesystem::path& directory, const std::string& kv_slots, surge_model** out) {
    surge::backend_model_spec spec;
    spec.model_name = "kjv_lm";
    spec.version = 1;
    spec.version_directory = directory;
    spec.parameters = {{"kv_slots", kv_slots}};
    surge_model_info info;
    info.spec = &spec;
    info.version_directory = directory.string();
    return check(plugin_.model_create(&info, out));
  }

  std::vector<std::int32_t> tokenize(const std::string& text) {
    std::uint32_t count = 0;
    // Capacity 0 first: the call reports the size it needs, as the ABI promises.
    auto result = check(plugin_.tokenize(model_, text.data(), text.size(), nullptr, 0, &count));
    EXPECT_TRUE(result.ok) << result.message;
    std::vector<std::int32_t> tokens(count);
    result = check(plugin_.tokenize(model_, text.data(), text.size(), tokens.data(), count, &count));
    EXPECT_TRUE(result.ok) << result.message;
    EXPECT_EQ(count, tokens.size());
    return tokens;
  }

  std::string detokenize(const std::vector<std::int32_t>& tokens) {
    std::uint64_t length = 0;
    std::string text(4, '\0');  // deliberately short: the call must report the full length
    auto result = check(plugin_.detokenize(model_, tokens.data(), static_cast<std::uint32_t>(tokens.size()),
                                           text.data(), text.size(), &length));
    EXPECT_TRUE(result.ok) << result.message;
    if (length > text.size()) {
      text.resize(length);
      result = check(plugin_.detokenize(model_, tokens.data(), static_cast<std::uint32_t>(tokens.size()),
                                        text.data(), text.size(), &length));
      EXPECT_TRUE(result.ok) << result.message;
    }
    text.resize(length);
    return text;
  }

  std::vector<float> prefill(std::uint32_t slot, const std::vector<std::int32_t>& tokens) {
    std::vector<float> logits(info_.vocab_size);
    const auto result = check(
        plugin_.prefill(instance_, slot, tokens.data(), static_cast<std::uint32_t>(tokens.size()), logits.data()));
    EXPECT_TRUE(result.ok) << result.message;
    return logits;
  }

  // Rows of logits, one per sequence.
  std::vector<std::vector<float>> step(const std::vector<std::uint32_t>& slots,
                                       const std::vector<std::int32_t>& tokens,
                                       const std::vector<std::uint32_t>& positions) {
    std::vector<float> logits(slots.size() * info_.vocab_size);
    const auto result = check(plugin_.step(instance_, slots.data(), tokens.data(), positions.data(),
                                           static_cast<std::uint32_t>(slots.size()), logits.data()));
    EXPECT_TRUE(result.ok) << result.message;
    std::vector<std::vector<float>> rows;
    for (std::size_t i = 0; i < slots.size(); ++i) {
      rows.emplace_back(logits.begin() + static_cast<std::ptrdiff_t>(i * info_.vocab_size),
                        logits.begin() + static_cast<std::ptrdiff_t>((i + 1) * info_.vocab_size));
    }
    return rows;
  }

  static std::int32_t argmax(const std::vector<float>& logits) {
    return static_cast<std::int32_t>(std::max_element(logits.begin(), logits.end()) - logits.begin());
  }

  // Greedy decoding of one sequence alone in `slot`; each pick's logits go to *rows.
  std::vector<std::int32_t> greedy(std::uint32_t slot, const std::vector<std::int32_t>& prompt, std::size_t n,
                                   std::vector<std::vector<float>>* rows = nullptr) {
    auto logits = prefill(slot, prompt);
    std::vector<std::int32_t> out;
    auto position = static_cast<std::uint32_t>(prompt.size());
    while (true) {
      out.push_back(argmax(logits));
      if (rows != nullptr) rows->push_back(logits);
      if (out.size() == n) return out;
      logits = step({slot}, {out.back()}, {position++})[0];
    }
  }

  static float max_abs_difference(const std::vector<std::vector<float>>& a, const std::vector<std::vector<float>>& b) {
    float worst = 0;
    EXPECT_EQ(a.size(), b.size());
    for (std::size_t i = 0; i < std::min(a.size(), b.size()); ++i) {
      EXPECT_EQ(a[i].size(), b[i].size());
      for (std::size_t j = 0; j < std::min(a[i].size(), b[i].size()); ++j) {
        worst = std::max(worst, std::abs(a[i][j] - b[i][j]));
      }
    }
    return worst;
  }

  lm_plugin plugin_;
  surge_model* model_{nullptr};
  surge_instance* instance_{nullptr};
  // What info_get reported.
  struct {
    std::uint32_t max_sequences{0};
    std::uint32_t max_context{0};
    std::uint32_t vocab_size{0};
    std::int32_t eos_token{-1};
    std::int32_t bos_token{-1};
  } info_;
};

TEST_F(torchscript_lm_backend_test, reports_the_model_limits) {
  EXPECT_EQ(info_.max_sequences, 8u);  // the kv_slots parameter
  EXPECT_EQ(info_.max_context, 256u);
  EXPECT_EQ(info_.vocab_size, 2000u);
  EXPECT_GE(info_.bos_token, 0);
  EXPECT_GE(info_.eos_token, 0);
  EXPECT_NE(info_.bos_token, info_.eos_token);
}

TEST_F(torchscript_lm_backend_test, tokenize_prepends_bos_and_detokenize_round_trips) {
  const std::string verse = "In the beginning God created the heaven and the earth.";
  const auto tokens = tokenize(verse);
  ASSERT_GT(tokens.size(), 2u);
  EXPECT_EQ(tokens.front(), info_.bos_token);
  for (auto t : tokens) EXPECT_TRUE(t >= 0 && static_cast<std::uint32_t>(t) < info_.vocab_size) << t;
  // BOS and EOS are control tokens: they decode to nothing.
  auto with_eos = tokens;
  with_eos.push_back(info_.eos_token);
  EXPECT_EQ(detokenize(tokens), verse);
  EXPECT_EQ(detokenize(with_eos), verse);
  EXPECT_EQ(detokenize({}), "");
}

TEST_F(torchscript_lm_backend_test, greedy_decoding_reproduces_the_python_reference) {
  std::ifstream file(model_directory() / "greedy_reference.json");
  ASSERT_TRUE(file) << "no greedy_reference.json beside the model";
  std::stringstream text;
  text << file.rdbuf();
  rapidjson::Document reference;
  reference.Parse(text.str().c_str());
  ASSERT_FALSE(reference.HasParseError());

  std::vector<std::int32_t> prompt_tokens, expected;
  for (const auto& v : reference["prompt_tokens"].GetArray()) prompt_tokens.push_back(v.GetInt());
  for (const auto& v : reference["greedy_tokens"].GetArray()) expected.push_back(v.GetInt());
  ASSERT_EQ(expected.size(), 32u);

  EXPECT_EQ(tokenize(reference["prompt"].GetString()), prompt_tokens);
  EXPECT_EQ(greedy(3, prompt_tokens, expected.size()), expected);
}

TEST_F(torchscript_lm_backend_test, sequences_stepped_together_match_each_alone) {
  const auto a = tokenize("And the LORD spake unto Moses, saying,");
  const auto b = tokenize("Blessed are the");
  constexpr std::size_t n = 24;
  std::vector<std::vector<float>> alone_a_logits, alone_b_logits;
  const auto alone_a = greedy(0, a, n, &alone_a_logits);
  plugin_.release(instance_, 0);
  const auto alone_b = greedy(0, b, n, &alone_b_logits);
  plugin_.release(instance_, 0);

  // Other slots, prompts of different lengths, one step call for both.
  std::vector<std::vector<float>> together_a_logits{prefill(6, a)}, together_b_logits{prefill(2, b)};
  std::vector<std::int32_t> together_a{argmax(together_a_logits.back())};
  std::vector<std::int32_t> together_b{argmax(together_b_logits.back())};
  auto position_a = static_cast<std::uint32_t>(a.size());
  auto position_b = static_cast<std::uint32_t>(b.size());
  while (together_a.size() < n) {
    auto rows = step({6, 2}, {together_a.back(), together_b.back()}, {position_a++, position_b++});
    together_a.push_back(argmax(rows[0]));
    together_b.push_back(argmax(rows[1]));
    together_a_logits.push_back(std::move(rows[0]));
    together_b_logits.push_back(std::move(rows[1]));
  }
  EXPECT_EQ(together_a, alone_a);
  EXPECT_EQ(together_b, alone_b);
  // Batched matrix products may sum in another order; nothing more may differ.
  EXPECT_LT(max_abs_difference(together_a_logits, alone_a_logits), 1e-3f);
  EXPECT_LT(max_abs_difference(together_b_logits, alone_b_logits), 1e-3f);
}

TEST_F(torchscript_lm_backend_test, bad_slots_prompts_tokens_and_positions_are_invalid_arguments) {
  const auto prompt = tokenize("The LORD is my shepherd;");
  std::vector<float> logits(2 * info_.vocab_size);
  auto expect_invalid = [](const outcome& result, const std::string& needle) {
    EXPECT_FALSE(result.ok);
    EXPECT_EQ(result.code, SURGE_ERROR_INVALID_ARGUMENT) << result.message;
    EXPECT_NE(result.message.find(needle), std::string::npos) << result.message;
  };

  expect_invalid(check(plugin_.prefill(instance_, info_.max_sequences, prompt.data(),
                                       static_cast<std::uint32_t>(prompt.size()), logits.data())),
                 "slot 8");
  const std::vector<std::int32_t> too_long(info_.max_context + 1, prompt[1]);
  expect_invalid(check(plugin_.prefill(instance_, 0, too_long.data(), static_cast<std::uint32_t>(too_long.size()),
                                       logits.data())),
                 "257 tokens");
  const std::vector<std::int32_t> outside = {info_.bos_token, static_cast<std::int32_t>(info_.vocab_size)};
  expect_invalid(check(plugin_.prefill(instance_, 0, outside.data(), 2, logits.data())), "vocabulary");

  // Stepping a slot that holds nothing, or past the end of the context.
  const std::uint32_t slot = 1, token = 5, position = 3;
  const std::int32_t token_id = token;
  expect_invalid(check(plugin_.step(instance_, &slot, &token_id, &position, 1, logits.data())), "holds 0 tokens");
  prefill(slot, prompt);
  const std::uint32_t past = info_.max_context;
  expect_invalid(check(plugin_.step(instance_, &slot, &token_id, &past, 1, logits.data())), "context");
  const std::uint32_t bad_slot = info_.max_sequences;
  expect_invalid(check(plugin_.step(instance_, &bad_slot, &token_id, &position, 1, logits.data())), "slot 8");
  const std::uint32_t twice[] = {slot, slot};
  const std::int32_t tokens[] = {token_id, token_id};
  const std::uint32_t positions[] = {position, position};
  expect_invalid(check(plugin_.step(instance_, twice, tokens, positions, 2, logits.data())), "already uses");

  // A released slot cannot be stepped; the errors above left it usable.
  const auto at_end = static_cast<std::uint32_t>(prompt.size());
  EXPECT_TRUE(check(plugin_.step(instance_, &slot, &token_id, &at_end, 1, logits.data())).ok);
  plugin_.release(instance_, slot);
  expect_invalid(check(plugin_.step(instance_, &slot, &token_id, &position, 1, logits.data())), "holds 0 tokens");
}

TEST_F(torchscript_lm_backend_test, tensor_execute_is_unsupported) {
  const auto result = check(plugin_.instance_execute(instance_, nullptr, 0));
  EXPECT_FALSE(result.ok);
  EXPECT_EQ(result.code, SURGE_ERROR_UNSUPPORTED);
  EXPECT_NE(result.message.find("sequence API"), std::string::npos) << result.message;
}

TEST_F(torchscript_lm_backend_test, missing_files_and_bad_parameters_fail_the_load_naming_them) {
  const surge::testing::temp_dir scratch("surge_lm_test");
  const auto version = scratch.path() / "1";
  std::filesystem::create_directories(version);
  surge_model* other = nullptr;
  auto result = create_model(version, "8", &other);
  EXPECT_EQ(other, nullptr);
  EXPECT_EQ(result.code, SURGE_ERROR_UNSUPPORTED);
  EXPECT_NE(result.message.find((version / "model.pt").string()), std::string::npos) << result.message;

  // model.pt present, tokenizer.model missing.
  std::filesystem::copy_file(model_directory() / "model.pt", version / "model.pt");
  result = create_model(version, "8", &other);
  EXPECT_EQ(other, nullptr);
  EXPECT_EQ(result.code, SURGE_ERROR_UNSUPPORTED);
  EXPECT_NE(result.message.find((version / "tokenizer.model").string()), std::string::npos) << result.message;

  result = create_model(model_directory(), "0", &other);
  EXPECT_EQ(other, nullptr);
  EXPECT_EQ(result.code, SURGE_ERROR_UNSUPPORTED);
  EXPECT_NE(result.message.find("'kv_slots'"), std::string::npos) << result.message;
}

}  // namespace
