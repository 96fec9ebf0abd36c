// Whether a config's tensor shape fits the shape a model file declares, and
// the config shape autocomplete derives from a model's. Free of any
// framework, shared by the onnxruntime and xgboost backends.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace surge::shape_match {

// `model` uses -1 for a dimension it leaves open (ONNX's symbolic or unknown
// dims). `config` is the config's dims with the batch dimension (-1) in
// front when the model batches. A fixed model dimension needs the same fixed
// config dimension; an open one takes anything.
inline bool fits(std::span<const std::int64_t> model, std::span<const std::int64_t> config) {
  if (model.size() != config.size()) return false;
  for (std::size_t i = 0; i < model.size(); ++i) {
    if (model[i] != -1 && model[i] != config[i]) return false;
  }
  return true;
}

// The config dims a model tensor stands for: without the first dimension
// when the model batches (that one must be open), all of them otherwise.
inline std::vector<std::int64_t> config_dims(std::span<const std::int64_t> model, bool batched) {
  if (!batched) return {model.begin(), model.end()};
  return {model.begin() + (model.empty() ? 0 : 1), model.end()};
}

// Whether a model tensor can take a batch dimension: its first one is open.
inline bool batchable(std::span<const std::int64_t> model) { return !model.empty() && model[0] == -1; }

}  // namespace surge::shape_match
