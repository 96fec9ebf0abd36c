#pragma once

#include <optional>
#include <string>

#include <rapidjson/document.h>

#include "core/generation.hpp"

namespace surge {

// Reads the sampling fields shared by the OpenAI API and KServe's generate
// extension from a JSON object: max_tokens, temperature, top_p, top_k, seed,
// stop (a string or an array of strings), ignore_eos. Unknown fields are the
// caller's business. Returns a message naming the field when one has the
// wrong type or range.
std::optional<std::string> read_sampling_parameters(const rapidjson::Value& object, sampling_parameters& out);

}  // namespace surge
