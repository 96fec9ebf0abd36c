#include "router/model_warmup.hpp"

#include <cstring>
#include <fstream>
#include <future>
#include <random>
#include <sstream>

#include "config/model_config.hpp"

namespace surge {

namespace {

class waiting_sink final : public response_sink {
 public:
  void send(inference_response) override {}
  void finish(std::optional<error> failure) override { done_.set_value(std::move(failure)); }
  std::optional<error> wait() { return done_.get_future().get(); }

 private:
  std::promise<std::optional<error>> done_;
};

std::variant<tensor, std::string> make_input(const std::string& name, const config::ModelWarmup::Input& spec,
                                             std::uint32_t batch_size, const std::filesystem::path& model_directory) {
  const auto type = to_data_type(spec.data_type());
  std::vector<std::int64_t> shape;
  if (batch_size > 0) shape.push_back(batch_size);
  for (const auto d : spec.dims()) {
    if (d < 0) return "input '" + name + "': dims must be fixed, got " + std::to_string(d);
    shape.push_back(d);
  }
  std::int64_t elements = 1;
  for (const auto d : shape) elements *= d;
  const auto count = static_cast<std::size_t>(elements);
  if (spec.input_data_type_case() == config::ModelWarmup::Input::kInputDataFile) {
    const auto path = model_directory / "warmup" / spec.input_data_file();
    std::ifstream in(path, std::ios::binary);
    if (!in) return "input '" + name + "': cannot read warmup/" + spec.input_data_file() + " of the model";
    std::stringstream text;
    text << in.rdbuf();
    const auto bytes = text.str();
    if (type != data_type::bytes && bytes.size() != count * element_size(type)) {
      return "input '" + name + "': warmup/" + spec.input_data_file() + " holds " + std::to_string(bytes.size()) + " bytes, the input " +
             std::to_string(count * element_size(type));
    }
    auto t = make_owned_tensor(name, type, std::move(shape), bytes.size());
    std::memcpy(mutable_data(t), bytes.data(), bytes.size());
    return t;
  }
  if (type == data_type::bytes) {
    // Empty strings, or one random byte each.
    const bool random = spec.random_data();
    auto t = make_owned_tensor(name, type, std::move(shape), count * (random ? 5 : 4));
    auto* out = mutable_data(t);
    std::minstd_rand generator(7);
    for (std::size_t i = 0; i < count; ++i) {
      const std::uint32_t length = random ? 1 : 0;
      std::memcpy(out, &length, 4);
      out += 4;
      if (random) *out++ = static_cast<std::byte>('a' + generator() % 26);
    }
    return t;
  }
  if (type == data_type::invalid || element_size(type) == 0) return "input '" + name + "': set data_type";
  auto t = make_owned_tensor(name, type, std::move(shape), count * element_size(type));
  auto* out = mutable_data(t);
  std::memset(out, 0, count * element_size(type));
  if (spec.random_data()) {
    std::minstd_rand generator(7);
    std::uniform_real_distribution<float> unit(0.0f, 1.0f);
    for (std::size_t i = 0; i < count; ++i) {
      auto* element = out + i * element_size(type);
      if (type == data_type::fp32) {
        const float v = unit(generator);
        std::memcpy(element, &v, sizeof v);
      } else if (type == data_type::fp64) {
        const double v = unit(generator);
        std::memcpy(element, &v, sizeof v);
      } else {
        element[0] = static_cast<std::byte>(generator() % 2);  // 0 or 1 fits every integer type and BOOL
      }
    }
  }
  return t;
}

}  // namespace

std::optional<std::string> warm_up(model_version& version, const config::ModelConfig& config,
                                   const std::filesystem::path& model_directory) {
  for (int w = 0; w < config.model_warmup_size(); ++w) {
    const auto& warmup = config.model_warmup(w);
    const std::string field = "model_warmup[" + std::to_string(w + 1) + "] '" + warmup.name() + "'";
    std::vector<tensor> inputs;
    for (const auto& [name, spec] : warmup.inputs()) {
      auto made = make_input(name, spec, config.max_batch_size() > 0 ? warmup.batch_size() : 0, model_directory);
      if (auto* problem = std::get_if<std::string>(&made)) return field + ": " + *problem;
      inputs.push_back(std::get<tensor>(std::move(made)));
    }
    const auto count = std::max<std::uint32_t>(1, warmup.count());
    for (std::uint32_t i = 0; i < count; ++i) {
      auto request = std::make_unique<inference_request>();
      request->id = "warmup-" + std::to_string(w + 1) + "-" + std::to_string(i + 1);
      request->model = config.name();
      request->version = version.version();
      request->inputs = inputs;
      auto sink = std::make_shared<waiting_sink>();
      request->sink = sink;
      version.submit(std::move(request));
      if (auto failure = sink->wait()) return field + ": " + failure->message;
    }
  }
  return std::nullopt;
}

}  // namespace surge
