// The TorchScript language model (<version_directory>/model.pt) as written by
// scripts/train_lm.py: the methods it exports and the cache they share.
#pragma once

#include <cstdint>
#include <filesystem>
#include <span>
#include <string>

#include <torch/script.h>

namespace surge::torchscript_lm {

// What dimensions() of the module reports.
struct lm_dimensions {
  std::int64_t vocab_size{0};
  std::int64_t max_context{0};  // positions one sequence may hold
  std::int64_t layers{0};
  std::int64_t heads{0};
  std::int64_t head_dim{0};
};

// Keys and values of every slot, float32[layers, slots, heads, max_context,
// head_dim] each. Owned by one instance; the module writes into them in place.
struct kv_cache {
  at::Tensor keys;
  at::Tensor values;
};

// Loaded once per model and shared by its instances: TorchScript methods may
// run from several threads at once, each instance passing its own cache.
class lm_module {
 public:
  // Fails with SURGE_ERROR_UNSUPPORTED naming the file when it is missing or
  // lacks prefill/step/dimensions.
  explicit lm_module(const std::filesystem::path& file);

  const lm_dimensions& dimensions() const noexcept { return dimensions_; }

  // Zeroed cache for `slots` sequences.
  kv_cache allocate_cache(std::int64_t slots) const;

  // tokens: int64[T]. Writes positions 0..T-1 of `slot`; returns float32[V].
  at::Tensor prefill(const at::Tensor& tokens, std::int64_t slot, kv_cache& cache) const;
  // tokens, positions, slots: int64[B]. Returns float32[B, V].
  at::Tensor step(const at::Tensor& tokens, const at::Tensor& positions, const at::Tensor& slots,
                  kv_cache& cache) const;

 private:
  at::Tensor call(const char* method, std::vector<c10::IValue> arguments) const;

  std::filesystem::path file_;
  torch::jit::Module module_;
  lm_dimensions dimensions_;
};

}  // namespace surge::torchscript_lm
