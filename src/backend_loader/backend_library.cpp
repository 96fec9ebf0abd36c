#include "backend_loader/backend_library.hpp"

#include <dlfcn.h>

#include <algorithm>
#include <new>
#include <system_error>

namespace surge {
namespace {

std::string shape_string(const std::int64_t* shape, std::uint32_t rank) {
  std::string s = "[";
  for (std::uint32_t i = 0; i < rank; ++i) {
    if (i) s += ", ";
    s += std::to_string(shape[i]);
  }
  return s + "]";
}

error_code error_code_from(surge_error_code code) {
  switch (code) {
    case SURGE_ERROR_INVALID_ARGUMENT: return error_code::invalid_argument;
    case SURGE_ERROR_UNAVAILABLE: return error_code::not_ready;
    case SURGE_ERROR_INTERNAL:
    case SURGE_ERROR_UNSUPPORTED:
    default: return error_code::internal;
  }
}

bool is_valid(data_type type) { return type == data_type::bytes || element_size(type) != 0; }

// Where the server's allocator callback puts the outputs of one execute().
struct output_collector {
  const backend_model_spec* spec;
  std::vector<tensor> outputs;
  // Why the last allocation was refused, added to the backend's error so the
  // message says which side objected.
  std::string refusal;
};

std::string check_output(const backend_model_spec& spec, const std::vector<tensor>& already, const char* name,
                         surge_data_type raw_type, const std::int64_t* shape, std::uint32_t rank,
                         std::uint64_t byte_size) {
  if (name == nullptr) return "an output without a name";
  const auto declared = std::find_if(spec.outputs.begin(), spec.outputs.end(),
                                     [&](const tensor_spec& s) { return s.name == name; });
  if (declared == spec.outputs.end()) return std::string("output '") + name + "' is not declared by the model";
  if (std::any_of(already.begin(), already.end(), [&](const tensor& t) { return t.name == name; })) {
    return std::string("output '") + name + "' allocated twice";
  }
  const auto type = static_cast<data_type>(raw_type);
  if (type != declared->type) {
    return std::string("output '") + name + "' is " + std::string(kserve_name(type)) + ", the model declares " +
           std::string(kserve_name(declared->type));
  }
  if (rank != 0 && shape == nullptr) return std::string("output '") + name + "' has no shape";

  const std::uint32_t batch_rank = spec.max_batch_size > 0 ? 1 : 0;
  bool shape_ok = rank == declared->dims.size() + batch_rank;
  std::uint64_t elements = 1;
  for (std::uint32_t i = 0; shape_ok && i < rank; ++i) {
    shape_ok = shape[i] >= 0 && (i < batch_rank || declared->dims[i - batch_rank] == -1 ||
                                 declared->dims[i - batch_rank] == shape[i]);
    elements *= static_cast<std::uint64_t>(shape[i]);
  }
  if (!shape_ok) {
    return std::string("output '") + name + "' has shape " + shape_string(shape, rank) +
           ", which does not match the model's dims";
  }
  if (type != data_type::bytes && elements * element_size(type) != byte_size) {
    return std::string("output '") + name + "' of shape " + shape_string(shape, rank) + " asked for " +
           std::to_string(byte_size) + " bytes, needs " + std::to_string(elements * element_size(type));
  }
  return {};
}

// The surge_output_allocator handed to backends. Called from C: never throws.
void* allocate_output(void* context, const char* name, surge_data_type type, const std::int64_t* shape,
                      std::uint32_t rank, std::uint64_t byte_size) noexcept {
  auto& collector = *static_cast<output_collector*>(context);
  try {
    collector.refusal = check_output(*collector.spec, collector.outputs, name, type, shape, rank, byte_size);
    if (!collector.refusal.empty()) return nullptr;
    collector.outputs.push_back(make_owned_tensor(name, static_cast<data_type>(type),
                                                  std::vector<std::int64_t>(shape, shape + rank),
                                                  static_cast<std::size_t>(byte_size)));
    return mutable_data(collector.outputs.back());
  } catch (const std::bad_alloc&) {
    collector.refusal = "out of memory for output '" + std::string(name ? name : "") + "'";
  } catch (...) {
    collector.refusal = "unexpected failure allocating an output";
  }
  return nullptr;
}

}  // namespace

// ---- backend_library ------------------------------------------------------

std::filesystem::path backend_library::library_path(const std::filesystem::path& backend_dir, std::string_view name) {
  return backend_dir / ("libsurge_backend_" + std::string(name) + ".so");
}

std::variant<std::shared_ptr<backend_library>, error> backend_library::load(const std::filesystem::path& backend_dir,
                                                                           std::string_view name) {
  return load_file(library_path(backend_dir, name), name);
}

std::variant<std::shared_ptr<backend_library>, error> backend_library::load_file(const std::filesystem::path& path,
                                                                                std::string_view name) {
  const std::string label = "backend '" + std::string(name) + "'";
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) {
    return make_error(error_code::not_found, label + " not found: no library at " + path.string());
  }
  // RTLD_LOCAL keeps each backend's dependencies (one libtorch, another
  // onnxruntime) from resolving against each other's symbols.
  void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) {
    const char* why = dlerror();
    return make_error(error_code::internal, label + ": cannot load " + path.string() + ": " + (why ? why : "unknown"));
  }
  // From here the library owns the handle and closes it on every path.
  std::shared_ptr<backend_library> library(new backend_library(std::string(name), path, handle));

  auto resolve = [&](auto& slot, const char* symbol) -> bool {
    dlerror();
    void* address = dlsym(handle, symbol);
    slot = reinterpret_cast<std::remove_reference_t<decltype(slot)>>(address);
    return address != nullptr;
  };
  auto& fn = library->fn_;
  const std::pair<bool, const char*> resolved[] = {
      {resolve(fn.api_version, "surge_backend_api_version"), "surge_backend_api_version"},
      {resolve(fn.error_code_of, "surge_error_code_of"), "surge_error_code_of"},
      {resolve(fn.error_message, "surge_error_message"), "surge_error_message"},
      {resolve(fn.error_delete, "surge_error_delete"), "surge_error_delete"},
      {resolve(fn.model_create, "surge_model_create"), "surge_model_create"},
      {resolve(fn.model_delete, "surge_model_delete"), "surge_model_delete"},
      {resolve(fn.instance_create, "surge_instance_create"), "surge_instance_create"},
      {resolve(fn.instance_delete, "surge_instance_delete"), "surge_instance_delete"},
      {resolve(fn.instance_execute, "surge_instance_execute"), "surge_instance_execute"},
  };
  for (const auto& [found, symbol] : resolved) {
    if (!found) {
      return make_error(error_code::internal,
                        label + " (" + path.string() + ") does not export '" + symbol + "'; is it a surge backend?");
    }
  }
  // Optional: a backend exports all of these or is not generative.
  resolve(fn.generation_info_get, "surge_generation_info_get");
  resolve(fn.generation_tokenize, "surge_generation_tokenize");
  resolve(fn.generation_detokenize, "surge_generation_detokenize");
  resolve(fn.sequence_prefill, "surge_sequence_prefill");
  resolve(fn.sequence_step, "surge_sequence_step");
  resolve(fn.sequence_release, "surge_sequence_release");

  std::uint32_t major = 0;
  std::uint32_t minor = 0;
  fn.api_version(&major, &minor);
  library->api_version_ = {major, minor};
  if (major != SURGE_BACKEND_API_MAJOR || minor > SURGE_BACKEND_API_MINOR) {
    return make_error(error_code::internal,
                      label + " (" + path.string() + ") was built for backend API " + std::to_string(major) + "." +
                          std::to_string(minor) + ", but this server implements " +
                          std::to_string(SURGE_BACKEND_API_MAJOR) + "." + std::to_string(SURGE_BACKEND_API_MINOR) +
                          " (the major version must match and the minor must not be newer)");
  }
  return library;
}

backend_library::backend_library(std::string name, std::filesystem::path path, void* handle)
    : name_(std::move(name)), path_(std::move(path)), handle_(handle) {}

backend_library::~backend_library() { dlclose(handle_); }

bool backend_library::generative() const {
  return fn_.generation_info_get && fn_.generation_tokenize && fn_.generation_detokenize && fn_.sequence_prefill &&
         fn_.sequence_step && fn_.sequence_release;
}

error backend_library::take_error(surge_error* raw, std::string_view context) const {
  if (raw == nullptr) return make_error(error_code::internal, std::string(context));
  const char* message = fn_.error_message(raw);
  error result = make_error(error_code_from(fn_.error_code_of(raw)), message ? message : "");
  fn_.error_delete(raw);
  return result;
}

// ---- backend_model --------------------------------------------------------

std::variant<std::shared_ptr<backend_model>, error> backend_model::create(std::shared_ptr<backend_library> library,
                                                                        backend_model_spec spec) {
  const std::string label = "backend '" + library->name() + "' cannot load model '" + spec.model_name + "'";
  for (const auto* list : {&spec.inputs, &spec.outputs}) {
    for (const auto& t : *list) {
      if (!is_valid(t.type)) return make_error(error_code::internal, label + ": tensor '" + t.name + "' has no type");
    }
  }

  // C views of the spec; they borrow from `spec`, which outlives the call.
  auto views = [](const std::vector<tensor_spec>& specs) {
    std::vector<surge_tensor_spec> out;
    out.reserve(specs.size());
    for (const auto& s : specs) {
      out.push_back({s.name.c_str(), static_cast<surge_data_type>(s.type), s.dims.data(),
                     static_cast<std::uint32_t>(s.dims.size())});
    }
    return out;
  };
  const auto inputs = views(spec.inputs);
  const auto outputs = views(spec.outputs);
  std::vector<surge_parameter> parameters;
  parameters.reserve(spec.parameters.size());
  for (const auto& [key, value] : spec.parameters) parameters.push_back({key.c_str(), value.c_str()});
  const std::string version_directory = spec.version_directory.string();

  const surge_model_spec raw{
      spec.model_name.c_str(),
      spec.version,
      version_directory.c_str(),
      spec.max_batch_size,
      inputs.data(),
      static_cast<std::uint32_t>(inputs.size()),
      outputs.data(),
      static_cast<std::uint32_t>(outputs.size()),
      parameters.data(),
      static_cast<std::uint32_t>(parameters.size()),
      spec.default_model_filename.c_str(),
  };

  surge_model* handle = nullptr;
  if (surge_error* failure = library->fn().model_create(&raw, &handle)) {
    error e = library->take_error(failure, label);
    e.message = label + ": " + e.message;
    return e;
  }
  if (handle == nullptr) return make_error(error_code::internal, label + ": the backend returned no model");
  return std::shared_ptr<backend_model>(new backend_model(std::move(library), std::move(spec), handle));
}

backend_model::backend_model(std::shared_ptr<backend_library> library, backend_model_spec spec, surge_model* handle)
    : library_(std::move(library)), spec_(std::move(spec)), handle_(handle) {}

backend_model::~backend_model() { library_->fn().model_delete(handle_); }

namespace {

error not_generative(const backend_library& library) {
  return make_error(error_code::internal, "backend '" + library.name() + "' does not implement the generative API");
}

}  // namespace

std::variant<surge_generation_info, error> backend_model::generation_info() const {
  if (!library_->generative()) return not_generative(*library_);
  surge_generation_info info{};
  if (surge_error* failure = library_->fn().generation_info_get(handle_, &info)) {
    return library_->take_error(failure, "generation_info_get failed");
  }
  return info;
}

std::variant<std::vector<std::int32_t>, error> backend_model::tokenize(std::string_view text) const {
  if (!library_->generative()) return not_generative(*library_);
  std::vector<std::int32_t> tokens(text.size() + 8);
  for (int attempt = 0; attempt < 2; ++attempt) {
    std::uint32_t count = 0;
    if (surge_error* failure = library_->fn().generation_tokenize(
            handle_, text.data(), text.size(), tokens.data(), static_cast<std::uint32_t>(tokens.size()), &count)) {
      return library_->take_error(failure, "tokenize failed");
    }
    if (count <= tokens.size()) {
      tokens.resize(count);
      return tokens;
    }
    tokens.resize(count);
  }
  return make_error(error_code::internal, "backend '" + library_->name() + "' changed its token count between calls");
}

std::variant<std::string, error> backend_model::detokenize(std::span<const std::int32_t> tokens) const {
  if (!library_->generative()) return not_generative(*library_);
  std::string text(tokens.size() * 8 + 16, '\0');
  for (int attempt = 0; attempt < 2; ++attempt) {
    std::uint64_t length = 0;
    if (surge_error* failure = library_->fn().generation_detokenize(
            handle_, tokens.data(), static_cast<std::uint32_t>(tokens.size()), text.data(), text.size(), &length)) {
      return library_->take_error(failure, "detokenize failed");
    }
    if (length <= text.size()) {
      text.resize(length);
      return text;
    }
    text.resize(length);
  }
  return make_error(error_code::internal, "backend '" + library_->name() + "' changed its text length between calls");
}

// ---- backend_instance_handle ----------------------------------------------

std::variant<backend_instance_handle, error> backend_instance_handle::create(std::shared_ptr<backend_model> model,
                                                                             std::uint32_t index) {
  const auto& library = *model->library();
  surge_instance* handle = nullptr;
  const std::string label = "backend '" + library.name() + "' cannot create instance " + std::to_string(index) +
                            " of model '" + model->spec().model_name + "'";
  if (surge_error* failure = library.fn().instance_create(model->handle(), index, &handle)) {
    error e = library.take_error(failure, label);
    e.message = label + ": " + e.message;
    return e;
  }
  if (handle == nullptr) return make_error(error_code::internal, label + ": the backend returned no instance");
  return backend_instance_handle(std::move(model), index, handle);
}

backend_instance_handle::backend_instance_handle(std::shared_ptr<backend_model> model, std::uint32_t index,
                                                 surge_instance* handle)
    : model_(std::move(model)), index_(index), handle_(handle) {}

backend_instance_handle::~backend_instance_handle() { reset(); }

backend_instance_handle::backend_instance_handle(backend_instance_handle&& other) noexcept
    : model_(std::move(other.model_)), index_(other.index_), handle_(std::exchange(other.handle_, nullptr)) {}

backend_instance_handle& backend_instance_handle::operator=(backend_instance_handle&& other) noexcept {
  if (this != &other) {
    reset();
    model_ = std::move(other.model_);
    index_ = other.index_;
    handle_ = std::exchange(other.handle_, nullptr);
  }
  return *this;
}

void backend_instance_handle::reset() noexcept {
  if (handle_ != nullptr) model_->library()->fn().instance_delete(handle_);
  handle_ = nullptr;
  model_.reset();
}

std::optional<error> backend_instance_handle::prefill(std::uint32_t slot, std::span<const std::int32_t> tokens,
                                                     std::span<float> logits) {
  const auto& library = *model_->library();
  if (!library.generative()) return not_generative(library);
  if (surge_error* failure = library.fn().sequence_prefill(handle_, slot, tokens.data(),
                                                            static_cast<std::uint32_t>(tokens.size()), logits.data())) {
    return library.take_error(failure, "prefill failed");
  }
  return std::nullopt;
}

std::optional<error> backend_instance_handle::step(std::span<const std::uint32_t> slots,
                                                  std::span<const std::int32_t> tokens,
                                                  std::span<const std::uint32_t> positions, std::span<float> logits) {
  const auto& library = *model_->library();
  if (!library.generative()) return not_generative(library);
  if (surge_error* failure = library.fn().sequence_step(handle_, slots.data(), tokens.data(), positions.data(),
                                                         static_cast<std::uint32_t>(slots.size()), logits.data())) {
    return library.take_error(failure, "step failed");
  }
  return std::nullopt;
}

void backend_instance_handle::release(std::uint32_t slot) {
  const auto& library = *model_->library();
  if (library.generative()) library.fn().sequence_release(handle_, slot);
}

std::variant<std::vector<tensor>, error> backend_instance_handle::execute(const std::vector<tensor>& inputs) {
  if (handle_ == nullptr) return make_error(error_code::internal, "execute on a moved-from backend instance");
  const auto& spec = model_->spec();
  const auto& library = *model_->library();

  std::vector<surge_tensor> views;
  views.reserve(inputs.size());
  for (const auto& t : inputs) {
    views.push_back({t.name.c_str(), static_cast<surge_data_type>(t.type), t.shape.data(),
                     static_cast<std::uint32_t>(t.shape.size()), t.data.data(),
                     static_cast<std::uint64_t>(t.data.size())});
  }

  output_collector collector{&spec, {}, {}};
  collector.outputs.reserve(spec.outputs.size());
  surge_error* failure = library.fn().instance_execute(handle_, views.data(), static_cast<std::uint32_t>(views.size()),
                                                       &allocate_output, &collector);
  if (failure != nullptr) {
    error e = library.take_error(failure, "");
    if (!collector.refusal.empty()) e.message += " (the server refused: " + collector.refusal + ")";
    return e;
  }

  // Hand the outputs back in declared order, and make "the backend allocates
  // every output" a checked promise rather than a hope.
  std::vector<tensor> ordered;
  ordered.reserve(spec.outputs.size());
  for (const auto& declared : spec.outputs) {
    auto it = std::find_if(collector.outputs.begin(), collector.outputs.end(),
                           [&](const tensor& t) { return t.name == declared.name; });
    if (it == collector.outputs.end()) {
      return make_error(error_code::internal, "backend '" + library.name() + "' returned no output '" +
                                                  declared.name + "' for model '" + spec.model_name + "'");
    }
    ordered.push_back(std::move(*it));
  }
  return ordered;
}

}  // namespace surge
