// The image step (backend "image"): each row of the input is one encoded
// image (JPEG, PNG or WebP, TYPE_STRING); each row of the output is that
// image decoded, resized and normalised as the config says (docs/images.md).
// Decoding is CPU work that can take milliseconds, so the model declares no
// short-execute capability: it runs on the instance threads, never on an
// I/O thread, and instance_group's count is the size of the decode pool.
//
// A request whose image does not decode is answered 400 with a message
// naming the input and the row; the other requests of its batch go on.
#include <surge/backend_helpers.hpp>

#include <atomic>
#include <memory>
#include <string>

#include "common/bytes_tensor.hpp"
#include "image/preprocess.hpp"
#include "model_settings.hpp"

namespace sdk = surge::backend_sdk;
namespace image = surge::image;

struct surge_model {
  surge::image_backend::model_settings settings;
  std::atomic<std::uint64_t> images_decoded{0};
  std::atomic<std::uint64_t> images_refused{0};
};

struct surge_instance {
  surge_model* model;
};

namespace {

void run(surge_model& model, const sdk::request_view& request, sdk::response& response) {
  const auto& s = model.settings;
  const auto input = request.input(s.input);
  if (input.type() != SURGE_TYPE_BYTES) {
    sdk::fail(SURGE_ERROR_INVALID_ARGUMENT, "input '" + s.input + "' must be BYTES (encoded images), not " +
                                                std::string(sdk::type_name(input.type())));
  }
  const auto shape = input.shape();
  const auto rows = sdk::element_count(shape);
  if (shape.empty() || rows < 0) {
    sdk::fail(SURGE_ERROR_INVALID_ARGUMENT, "input '" + s.input + "' has shape " + sdk::shape_string(shape));
  }
  const auto images = surge::bytes_tensor::split(input.bytes(), static_cast<std::size_t>(rows));
  if (!images) {
    sdk::fail(SURGE_ERROR_INVALID_ARGUMENT,
              "input '" + s.input + "' does not hold " + std::to_string(rows) + " BYTES elements");
  }
  std::vector<std::int64_t> out_shape{shape[0]};
  out_shape.insert(out_shape.end(), s.output_dims.begin(), s.output_dims.end());
  const std::size_t per_image = image::output_byte_size(s.options);
  auto out = response.output(s.output, s.output_type, out_shape, per_image * static_cast<std::size_t>(rows));
  for (std::size_t row = 0; row < images->size(); ++row) {
    const auto& encoded = (*images)[row];
    const std::span<const std::byte> bytes(reinterpret_cast<const std::byte*>(encoded.data()), encoded.size());
    if (auto failed = image::preprocess(bytes, s.options, out.subspan(row * per_image, per_image))) {
      model.images_refused.fetch_add(1, std::memory_order_relaxed);
      const bool options = failed->kind == image::error_kind::invalid_options;
      sdk::fail(options ? SURGE_ERROR_INTERNAL : SURGE_ERROR_INVALID_ARGUMENT,
                "input '" + s.input + "'" + (rows > 1 ? " row " + std::to_string(row) : std::string()) + ": " +
                    failed->message);
    }
    model.images_decoded.fetch_add(1, std::memory_order_relaxed);
  }
}

}  // namespace

SURGE_BACKEND_DEFINE_COMMON_EXPORTS();

extern "C" SURGE_BACKEND_EXPORT surge_error* surge_model_create(surge_model_info* raw, surge_model** out) {
  *out = nullptr;
  return sdk::guard([&] {
    auto model = std::make_unique<surge_model>();
    model->settings = surge::image_backend::read_settings(sdk::model_info(raw));
    *out = model.release();
  });
}

SURGE_BACKEND_DEFINE_MODEL_INSTANCE_EXPORTS();

extern "C" SURGE_BACKEND_EXPORT surge_error* surge_instance_execute(surge_instance* instance, surge_request** requests,
                                                                    uint32_t request_count) {
  return sdk::guard([&] {
    for (auto* request : sdk::requests_of(requests, request_count)) {
      sdk::answer(request, [&](const sdk::request_view& view, sdk::response& response) {
        if (view.cancelled()) sdk::fail(SURGE_ERROR_INVALID_ARGUMENT, "cancelled");
        run(*instance->model, view, response);
      });
    }
  });
}

extern "C" SURGE_BACKEND_EXPORT surge_error* surge_model_statistics(surge_model* model, surge_statistics* statistics) {
  return sdk::guard([&] {
    sdk::add_statistic(statistics, "images_decoded", static_cast<double>(model->images_decoded.load()));
    sdk::add_statistic(statistics, "images_refused", static_cast<double>(model->images_refused.load()));
  });
}
