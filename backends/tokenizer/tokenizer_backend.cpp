// Turns text into token ids with a model's own tokenizer.json (Hugging Face
// tokenizers, through shim/), as the first step of a text model's ensemble.
//
// Config: one TYPE_STRING input (any name, dims [1], max_batch_size > 0);
// outputs by name input_ids, attention_mask and optionally token_type_ids,
// TYPE_INT64 dims [-1]. Each request gets [rows, L], L the longest of its own
// rows after truncation, shorter rows padded with id 0 and mask 0.
//
// Parameters (string values):
//   tokenizer_file  default tokenizer.json; a relative path is looked up in
//                   the version directory, then in the model directory
//   max_length      tokens per row at most, special tokens included; 1..512,
//                   default 128
//
// A batch is tokenized in one call into the shim. Text that is empty or not
// UTF-8 fails its own request (invalid argument naming the input and
// element); the batch's other requests are answered.
#include <surge/backend_helpers.hpp>

#include <algorithm>
#include <array>
#include <cstring>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/bytes_tensor.hpp"
#include "tokenizer/text_encoder.hpp"

namespace sdk = surge::backend_sdk;
namespace fs = std::filesystem;

struct surge_model {
  std::string name;
  std::string input;
  bool type_ids_declared{false};
  std::unique_ptr<surge::tokenizer::text_encoder> encoder;
};

struct surge_instance {
  const surge_model* model;
};

namespace {

constexpr std::int64_t default_max_length = 128;
constexpr std::int64_t largest_max_length = 512;
constexpr std::string_view ids_output = "input_ids";
constexpr std::string_view mask_output = "attention_mask";
constexpr std::string_view type_ids_output = "token_type_ids";

fs::path tokenizer_path(const sdk::model_info& info, const sdk::parameter_map& parameters) {
  const std::string file = parameters.get_string("tokenizer_file").value_or("tokenizer.json");
  if (file.empty()) sdk::fail(SURGE_ERROR_UNSUPPORTED, "parameter 'tokenizer_file' is empty");
  const fs::path given(file);
  if (given.is_absolute()) return given;
  const fs::path version_directory(info.version_directory());
  const fs::path in_version = version_directory / given;
  std::error_code ec;
  if (fs::exists(in_version, ec)) return in_version;
  const fs::path in_model = version_directory.parent_path() / given;
  if (fs::exists(in_model, ec)) return in_model;
  sdk::fail(SURGE_ERROR_UNSUPPORTED, "tokenizer file '" + file + "' not found in " + in_version.parent_path().string() +
                                         " nor in " + in_model.parent_path().string() + " (parameter 'tokenizer_file')");
}

std::size_t max_length_of(const sdk::parameter_map& parameters) {
  const std::int64_t value = parameters.get_int("max_length").value_or(default_max_length);
  if (value < 1 || value > largest_max_length) {
    sdk::fail(SURGE_ERROR_UNSUPPORTED, "parameter 'max_length' must be 1.." + std::to_string(largest_max_length) +
                                           ", got " + std::to_string(value));
  }
  return static_cast<std::size_t>(value);
}

void check_tensors(const sdk::model_info& info, surge_model& model) {
  if (!info.batched()) {
    sdk::fail(SURGE_ERROR_UNSUPPORTED, "tokenizer model '" + model.name + "' needs max_batch_size > 0");
  }
  const auto inputs = info.inputs();
  if (inputs.size() != 1 || inputs[0].type != SURGE_TYPE_BYTES) {
    sdk::fail(SURGE_ERROR_UNSUPPORTED, "tokenizer model '" + model.name + "' needs exactly one TYPE_STRING input");
  }
  if (inputs[0].dims.size() != 1 || inputs[0].dims[0] != 1) {
    sdk::fail(SURGE_ERROR_UNSUPPORTED, "tokenizer input '" + std::string(inputs[0].name) + "' needs dims [1], has " +
                                           sdk::shape_string(inputs[0].dims));
  }
  model.input = inputs[0].name;
  bool ids = false;
  bool mask = false;
  for (const auto& output : info.outputs()) {
    const std::string_view name = output.name;
    if (name == ids_output) {
      ids = true;
    } else if (name == mask_output) {
      mask = true;
    } else if (name == type_ids_output) {
      model.type_ids_declared = true;
    } else {
      sdk::fail(SURGE_ERROR_UNSUPPORTED, "tokenizer output '" + std::string(name) +
                                             "' is none of input_ids, attention_mask, token_type_ids");
    }
    if (output.type != SURGE_TYPE_INT64 || output.dims.size() != 1 || output.dims[0] != -1) {
      sdk::fail(SURGE_ERROR_UNSUPPORTED, "tokenizer output '" + std::string(name) + "' must be TYPE_INT64 dims [-1]");
    }
  }
  if (!ids || !mask) {
    sdk::fail(SURGE_ERROR_UNSUPPORTED, "tokenizer model '" + model.name + "' needs outputs input_ids and attention_mask");
  }
}

// One request's texts: where they start among the batch's texts, or why the
// request fails before tokenizing.
struct request_texts {
  std::size_t first{0};
  std::size_t rows{0};
  std::optional<std::string> refused;
};

request_texts collect(const surge_model& model, const sdk::request_view& request,
                      std::vector<std::string_view>& texts) {
  request_texts out;
  out.first = texts.size();
  const auto input = request.input(model.input);
  if (input.type() != SURGE_TYPE_BYTES) {
    out.refused = "input '" + model.input + "' is " + std::string(sdk::type_name(input.type())) + ", expected BYTES";
    return out;
  }
  const auto count = sdk::element_count(input.shape());
  auto elements = count < 0 ? std::nullopt
                            : surge::bytes_tensor::split(input.bytes(), static_cast<std::size_t>(count));
  if (!elements) {
    out.refused = "input '" + model.input + "' does not hold the " + std::to_string(count) +
                  " BYTES elements of shape " + sdk::shape_string(input.shape());
    return out;
  }
  for (std::size_t i = 0; i < elements->size(); ++i) {
    if ((*elements)[i].empty()) {
      out.refused = "input '" + model.input + "' element " + std::to_string(i) + " is empty";
      return out;
    }
  }
  out.rows = elements->size();
  texts.insert(texts.end(), elements->begin(), elements->end());
  return out;
}

// Writes `pick(row)` of every row into an output of [rows, width], padding
// with zeros.
template <class Pick>
void write_output(sdk::response& response, std::string_view name, const surge::tokenizer::encoded_batch& batch,
                  const request_texts& texts, std::int64_t width, Pick pick) {
  const std::array<std::int64_t, 2> shape{static_cast<std::int64_t>(texts.rows), width};
  const auto bytes = static_cast<std::uint64_t>(texts.rows) * static_cast<std::uint64_t>(width) * sizeof(std::int64_t);
  auto buffer = response.output(std::string(name), SURGE_TYPE_INT64, shape, bytes);
  if (bytes != 0) std::memset(buffer.data(), 0, buffer.size());
  for (std::size_t r = 0; r < texts.rows; ++r) {
    const std::span<const std::int64_t> values = pick(batch.row(texts.first + r));
    if (!values.empty()) {
      std::memcpy(buffer.data() + r * static_cast<std::size_t>(width) * sizeof(std::int64_t), values.data(),
                  values.size_bytes());
    }
  }
}

void respond(const surge_model& model, const sdk::request_view& request, sdk::response& response,
             const surge::tokenizer::encoded_batch& batch, const request_texts& texts) {
  std::size_t width = 0;
  for (std::size_t r = 0; r < texts.rows; ++r) {
    const auto row = batch.row(texts.first + r);
    if (row.invalid_utf8_at != SIZE_MAX) {
      sdk::fail(SURGE_ERROR_INVALID_ARGUMENT, "input '" + model.input + "' element " + std::to_string(r) +
                                                  " is not valid UTF-8 (at byte " +
                                                  std::to_string(row.invalid_utf8_at) + ")");
    }
    width = std::max(width, row.ids.size());
  }
  const auto w = static_cast<std::int64_t>(width);
  using row_t = surge::tokenizer::encoded_row;
  if (request.wants_output(ids_output)) {
    write_output(response, ids_output, batch, texts, w, [](const row_t& row) { return row.ids; });
  }
  if (request.wants_output(mask_output)) {
    write_output(response, mask_output, batch, texts, w, [](const row_t& row) { return row.attention_mask; });
  }
  if (model.type_ids_declared && request.wants_output(type_ids_output)) {
    write_output(response, type_ids_output, batch, texts, w, [](const row_t& row) { return row.type_ids; });
  }
}

}  // namespace

SURGE_BACKEND_DEFINE_COMMON_EXPORTS();

extern "C" SURGE_BACKEND_EXPORT surge_error* surge_model_create(surge_model_info* raw, surge_model** out) {
  *out = nullptr;
  return sdk::guard([&] {
    const sdk::model_info info(raw);
    auto model = std::make_unique<surge_model>();
    model->name = info.name();
    check_tensors(info, *model);
    const sdk::parameter_map parameters(info);
    parameters.reject_unknown({"tokenizer_file", "max_length"});
    const std::size_t max_length = max_length_of(parameters);
    const fs::path path = tokenizer_path(info, parameters);
    try {
      model->encoder = std::make_unique<surge::tokenizer::text_encoder>(path.string(), max_length);
    } catch (const std::runtime_error& e) {
      sdk::fail(SURGE_ERROR_UNSUPPORTED, "tokenizer file '" + path.string() + "' does not load: " + e.what());
    }
    // Not SHORT_EXECUTE: a batch of sentences takes a millisecond or more
    // (docs/backends.md), far longer than an I/O thread may be held.
    *out = model.release();
  });
}

SURGE_BACKEND_DEFINE_MODEL_INSTANCE_EXPORTS();

extern "C" SURGE_BACKEND_EXPORT surge_error* surge_instance_execute(surge_instance* instance, surge_request** requests,
                                                                    uint32_t request_count) {
  return sdk::guard([&] {
    const surge_model& model = *instance->model;
    const auto batch_requests = sdk::requests_of(requests, request_count);
    std::vector<std::string_view> texts;
    std::vector<request_texts> per_request;
    per_request.reserve(batch_requests.size());
    for (auto* request : batch_requests) {
      try {
        per_request.push_back(collect(model, sdk::request_view(request), texts));
      } catch (const sdk::backend_exception& e) {
        // A missing input: the server checks inputs against the config, so
        // this is only a guard; the request fails alone all the same.
        per_request.push_back({texts.size(), 0, std::string(e.what())});
      }
    }
    const auto batch = model.encoder->encode(texts);  // throws: the batch fails as a whole
    for (std::size_t i = 0; i < batch_requests.size(); ++i) {
      const auto& request_text = per_request[i];
      if (request_text.refused) {
        sdk::send_error(batch_requests[i], SURGE_ERROR_INVALID_ARGUMENT, *request_text.refused);
        continue;
      }
      sdk::answer(batch_requests[i], [&](const sdk::request_view& view, sdk::response& response) {
        respond(model, view, response, batch, request_text);
      });
    }
  });
}
