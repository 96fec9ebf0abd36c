#include "model/classification.hpp"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <numeric>

#include "config/model_config.hpp"

namespace surge {
namespace {

bool classifiable(data_type type) {
  switch (type) {
    case data_type::uint8:
    case data_type::uint16:
    case data_type::uint32:
    case data_type::uint64:
    case data_type::int8:
    case data_type::int16:
    case data_type::int32:
    case data_type::int64:
    case data_type::fp32:
    case data_type::fp64:
      return true;
    default:
      return false;
  }
}

template <typename T>
std::string value_text(T value) {
  if constexpr (std::is_floating_point_v<T>) {
    char text[64];
    const int n = std::snprintf(text, sizeof text, "%.9f", static_cast<double>(value));
    return std::string(text, static_cast<std::size_t>(std::max(0, std::min<int>(n, sizeof text - 1))));
  } else {
    return std::to_string(value);
  }
}

// Appends one row's top classes, each a BYTES element (4-byte length, then the text).
template <typename T>
void classify_row(const std::byte* row, std::size_t size, std::size_t count, const std::vector<std::string>* labels,
                  std::string& out) {
  std::vector<T> values(size);
  std::memcpy(values.data(), row, size * sizeof(T));  // the buffer may be unaligned for T
  std::vector<std::size_t> order(size);
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::stable_sort(order.begin(), order.end(),
                   [&values](std::size_t a, std::size_t b) { return values[a] > values[b]; });
  for (std::size_t k = 0; k < count; ++k) {
    const auto index = order[k];
    auto text = value_text(values[index]) + ":" + std::to_string(index);
    if (labels && index < labels->size()) text += ":" + (*labels)[index];
    const auto length = static_cast<std::uint32_t>(text.size());
    char prefix[4];
    std::memcpy(prefix, &length, sizeof prefix);  // little-endian host (wire/kserve_request.cpp checks)
    out.append(prefix, sizeof prefix);
    out += text;
  }
}

template <typename T>
void classify_rows(const tensor& output, std::size_t rows, std::size_t row_size, std::size_t count,
                   const std::vector<std::string>* labels, std::string& out) {
  for (std::size_t r = 0; r < rows; ++r) {
    classify_row<T>(output.data.data() + r * row_size * sizeof(T), row_size, count, labels, out);
  }
}

class classifying final : public response_sink {
 public:
  classifying(std::shared_ptr<response_sink> inner, std::vector<std::pair<std::string, std::uint32_t>> classifications,
              bool batched, std::shared_ptr<const output_labels> labels)
      : inner_(std::move(inner)),
        classifications_(std::move(classifications)),
        batched_(batched),
        labels_(std::move(labels)) {}

  void send(inference_response response) override {
    for (auto& output : response.outputs) {
      const auto it = std::find_if(classifications_.begin(), classifications_.end(),
                                   [&output](const auto& c) { return c.first == output.name; });
      if (it == classifications_.end()) continue;
      const std::vector<std::string>* labels = nullptr;
      if (labels_) {
        if (const auto found = labels_->find(output.name); found != labels_->end()) labels = &found->second;
      }
      auto classified = classify(output, it->second, batched_, labels);
      if (auto* failure = std::get_if<error>(&classified)) {
        if (!failure_) failure_ = std::move(*failure);
        return;
      }
      output = std::get<tensor>(std::move(classified));
    }
    inner_->send(std::move(response));
  }

  void finish(std::optional<error> failure) override {
    inner_->finish(failure ? std::move(failure) : std::move(failure_));
  }

 private:
  std::shared_ptr<response_sink> inner_;
  std::vector<std::pair<std::string, std::uint32_t>> classifications_;
  bool batched_;
  std::shared_ptr<const output_labels> labels_;
  std::optional<error> failure_;  // a response that could not be classified; sent by finish()
};

}  // namespace

std::variant<tensor, error> classify(const tensor& output, std::uint32_t count, bool batched,
                                     const std::vector<std::string>* labels) {
  if (!classifiable(output.type)) {
    return make_error(error_code::invalid_argument, "output '" + output.name + "': a " +
                                                        std::string(kserve_name(output.type)) +
                                                        " tensor cannot be classified");
  }
  const auto elements = static_cast<std::size_t>(std::max<std::int64_t>(0, output.element_count()));
  const std::size_t rows = batched && !output.shape.empty() ? static_cast<std::size_t>(output.shape[0]) : 1;
  const std::size_t row_size = rows == 0 ? 0 : elements / rows;
  const std::size_t classes = std::min<std::size_t>(count, row_size);
  if (output.data.size() < elements * element_size(output.type)) {
    return make_error(error_code::internal, "output '" + output.name + "' is shorter than its shape");
  }

  std::string bytes;
  switch (output.type) {
    case data_type::uint8: classify_rows<std::uint8_t>(output, rows, row_size, classes, labels, bytes); break;
    case data_type::uint16: classify_rows<std::uint16_t>(output, rows, row_size, classes, labels, bytes); break;
    case data_type::uint32: classify_rows<std::uint32_t>(output, rows, row_size, classes, labels, bytes); break;
    case data_type::uint64: classify_rows<std::uint64_t>(output, rows, row_size, classes, labels, bytes); break;
    case data_type::int8: classify_rows<std::int8_t>(output, rows, row_size, classes, labels, bytes); break;
    case data_type::int16: classify_rows<std::int16_t>(output, rows, row_size, classes, labels, bytes); break;
    case data_type::int32: classify_rows<std::int32_t>(output, rows, row_size, classes, labels, bytes); break;
    case data_type::int64: classify_rows<std::int64_t>(output, rows, row_size, classes, labels, bytes); break;
    case data_type::fp32: classify_rows<float>(output, rows, row_size, classes, labels, bytes); break;
    case data_type::fp64: classify_rows<double>(output, rows, row_size, classes, labels, bytes); break;
    default: break;
  }
  std::vector<std::int64_t> shape;
  if (batched && !output.shape.empty()) shape.push_back(static_cast<std::int64_t>(rows));
  shape.push_back(static_cast<std::int64_t>(classes));
  auto classified = make_owned_tensor(output.name, data_type::bytes, std::move(shape), bytes.size());
  std::memcpy(mutable_data(classified), bytes.data(), bytes.size());
  return classified;
}

std::optional<error> validate_classifications(const config::ModelConfig& config, const inference_request& request) {
  for (const auto& [name, count] : request.classifications) {
    const std::string& wanted = name;  // clang 15 cannot capture a structured binding
    const auto it = std::find_if(config.output().begin(), config.output().end(),
                                 [&wanted](const auto& output) { return output.name() == wanted; });
    if (it == config.output().end()) {
      return make_error(error_code::invalid_argument,
                        "output '" + name + "': model '" + config.name() + "' has no such output to classify");
    }
    if (!classifiable(to_data_type(it->data_type()))) {
      return make_error(error_code::invalid_argument, "output '" + name + "': a " +
                                                          std::string(kserve_name(to_data_type(it->data_type()))) +
                                                          " output cannot be classified");
    }
    if (count == 0) {
      return make_error(error_code::invalid_argument, "output '" + name + "': classification must be at least 1");
    }
  }
  return std::nullopt;
}

std::shared_ptr<response_sink> classifying_sink(std::shared_ptr<response_sink> inner,
                                                std::vector<std::pair<std::string, std::uint32_t>> classifications,
                                                bool batched, std::shared_ptr<const output_labels> labels) {
  return std::make_shared<classifying>(std::move(inner), std::move(classifications), batched, std::move(labels));
}

}  // namespace surge
