#include "lm_module.hpp"

#include <surge/backend_helpers.hpp>

#include <string_view>
#include <vector>

namespace surge::torchscript_lm {

namespace sdk = surge::backend_sdk;

namespace {

// Errors raised inside TorchScript code arrive with the script's traceback
// (a dozen lines); its last line is the error itself.
std::string last_line(std::string_view text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.remove_suffix(1);
  const auto newline = text.rfind('\n');
  return std::string(newline == std::string_view::npos ? text : text.substr(newline + 1));
}

}  // namespace

lm_module::lm_module(const std::filesystem::path& file) : file_(file) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(file, ec)) {
    sdk::fail(SURGE_ERROR_UNSUPPORTED, "model file '" + file.string() + "' not found");
  }
  try {
    module_ = torch::jit::load(file.string(), at::kCPU);
  } catch (const c10::Error& e) {
    sdk::fail(SURGE_ERROR_UNSUPPORTED, "cannot load TorchScript file '" + file.string() + "': " +
                                           e.what_without_backtrace());
  }
  module_.eval();
  for (const char* method : {"dimensions", "prefill", "step"}) {
    if (!module_.find_method(method)) {
      sdk::fail(SURGE_ERROR_UNSUPPORTED, "'" + file.string() + "' has no " + method +
                                             "() method; is it a language model written by scripts/train_lm.py?");
    }
  }

  c10::IValue reported;
  try {
    reported = module_.get_method("dimensions")(std::vector<c10::IValue>{});
  } catch (const std::exception& e) {
    sdk::fail(SURGE_ERROR_UNSUPPORTED, "dimensions() of '" + file.string() + "' failed: " + last_line(e.what()));
  }
  if (!reported.isGenericDict()) {
    sdk::fail(SURGE_ERROR_UNSUPPORTED, "dimensions() of '" + file.string() + "' returned " + reported.tagKind() +
                                           ", expected Dict[str, int]");
  }
  const auto dict = reported.toGenericDict();
  auto read = [&](const char* key) -> std::int64_t {
    auto it = dict.find(c10::IValue(std::string(key)));
    if (it == dict.end() || !it->value().isInt() || it->value().toInt() < 1) {
      sdk::fail(SURGE_ERROR_UNSUPPORTED,
                "dimensions() of '" + file.string() + "' lacks a positive '" + key + "'");
    }
    return it->value().toInt();
  };
  dimensions_ = {read("vocab_size"), read("max_context"), read("layers"), read("heads"), read("head_dim")};
}

kv_cache lm_module::allocate_cache(std::int64_t slots) const {
  const auto& d = dimensions_;
  const std::vector<std::int64_t> shape = {d.layers, slots, d.heads, d.max_context, d.head_dim};
  try {
    return {at::zeros(shape, at::kFloat), at::zeros(shape, at::kFloat)};
  } catch (const c10::Error& e) {
    const auto bytes = 2 * d.layers * slots * d.heads * d.max_context * d.head_dim * 4;
    sdk::fail(SURGE_ERROR_UNAVAILABLE, "cannot allocate the key/value cache (" + std::to_string(slots) +
                                           " slots, " + std::to_string(bytes) + " bytes): " +
                                           e.what_without_backtrace());
  }
}

at::Tensor lm_module::call(const char* method, std::vector<c10::IValue> arguments) const {
  c10::IValue result;
  try {
    // Several instance threads may run methods of the shared module at once,
    // each with its own cache, which TorchScript supports.
    result = module_.get_method(method)(std::move(arguments));
  } catch (const c10::Error& e) {
    sdk::fail(SURGE_ERROR_INTERNAL, std::string(method) + "() of '" + file_.string() + "' failed: " +
                                        e.what_without_backtrace());
  } catch (const std::exception& e) {
    sdk::fail(SURGE_ERROR_INTERNAL, std::string(method) + "() of '" + file_.string() + "' failed: " +
                                        last_line(e.what()));
  }
  if (!result.isTensor() || result.toTensor().scalar_type() != at::kFloat) {
    sdk::fail(SURGE_ERROR_INTERNAL, std::string(method) + "() of '" + file_.string() +
                                        "' did not return a float32 tensor");
  }
  return result.toTensor();
}

at::Tensor lm_module::prefill(const at::Tensor& tokens, std::int64_t slot, kv_cache& cache) const {
  auto logits = call("prefill", {tokens, slot, cache.keys, cache.values});
  if (logits.dim() != 1 || logits.size(0) != dimensions_.vocab_size) {
    sdk::fail(SURGE_ERROR_INTERNAL, "prefill() of '" + file_.string() + "' returned shape " +
                                        sdk::shape_string({logits.sizes().data(), logits.sizes().size()}) +
                                        ", expected [" + std::to_string(dimensions_.vocab_size) + "]");
  }
  return logits.contiguous();
}

at::Tensor lm_module::step(const at::Tensor& tokens, const at::Tensor& positions, const at::Tensor& slots,
                           kv_cache& cache) const {
  auto logits = call("step", {tokens, positions, slots, cache.keys, cache.values});
  if (logits.dim() != 2 || logits.size(0) != tokens.size(0) || logits.size(1) != dimensions_.vocab_size) {
    sdk::fail(SURGE_ERROR_INTERNAL, "step() of '" + file_.string() + "' returned shape " +
                                        sdk::shape_string({logits.sizes().data(), logits.sizes().size()}) +
                                        ", expected [" + std::to_string(tokens.size(0)) + ", " +
                                        std::to_string(dimensions_.vocab_size) + "]");
  }
  return logits.contiguous();
}

}  // namespace surge::torchscript_lm
