#include "tokenizer.hpp"

#include <surge/backend_helpers.hpp>

#include <dlfcn.h>

namespace surge::torchscript_lm {

namespace sdk = surge::backend_sdk;

namespace {

// libsurge_sentencepiece.so sits beside this backend's own library.
std::filesystem::path piece_model_library_path() {
  static const char anchor = 0;
  Dl_info info{};
  if (dladdr(&anchor, &info) == 0 || info.dli_fname == nullptr) return piece_model_library;
  return std::filesystem::path(info.dli_fname).parent_path() / piece_model_library;
}

}  // namespace

tokenizer::tokenizer(const std::filesystem::path& file) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(file, ec)) {
    sdk::fail(SURGE_ERROR_UNSUPPORTED, "tokenizer file '" + file.string() + "' not found");
  }
  const auto library_path = piece_model_library_path();
  // RTLD_DEEPBIND: see piece_model.hpp.
  library_ = dlopen(library_path.c_str(), RTLD_NOW | RTLD_LOCAL | RTLD_DEEPBIND);
  if (library_ == nullptr) {
    const char* reason = dlerror();
    sdk::fail(SURGE_ERROR_UNSUPPORTED, "cannot load '" + library_path.string() + "', which reads tokenizer files: " +
                                           (reason ? reason : "unknown error"));
  }
  auto load = reinterpret_cast<load_piece_model_fn>(dlsym(library_, load_piece_model_symbol));
  std::string error;
  if (load != nullptr) model_.reset(load(file.c_str(), &error));
  if (!model_) {
    dlclose(library_);
    library_ = nullptr;
    sdk::fail(SURGE_ERROR_UNSUPPORTED, "cannot load SentencePiece model '" + file.string() + "': " +
                                           (load == nullptr ? library_path.string() + " lacks " +
                                                                  load_piece_model_symbol
                                                            : error));
  }
  vocab_size_ = static_cast<std::uint32_t>(model_->vocab_size());
  bos_ = model_->bos_id();
  eos_ = model_->eos_id();
}

tokenizer::~tokenizer() {
  model_.reset();  // its code lives in library_
  if (library_ != nullptr) dlclose(library_);
}

std::vector<std::int32_t> tokenizer::encode(std::string_view text) const {
  std::vector<int> pieces;
  std::string error;
  if (!model_->encode(text, &pieces, &error)) {
    sdk::fail(SURGE_ERROR_INVALID_ARGUMENT, "cannot tokenize the text: " + error);
  }
  std::vector<std::int32_t> ids;
  ids.reserve(pieces.size() + 1);
  if (bos_ >= 0) ids.push_back(bos_);
  ids.insert(ids.end(), pieces.begin(), pieces.end());
  return ids;
}

std::string tokenizer::decode(std::span<const std::int32_t> ids) const {
  for (std::size_t i = 0; i < ids.size(); ++i) {
    if (ids[i] < 0 || static_cast<std::uint32_t>(ids[i]) >= vocab_size_) {
      sdk::fail(SURGE_ERROR_INVALID_ARGUMENT, "token " + std::to_string(i) + " is " + std::to_string(ids[i]) +
                                                  ", outside the vocabulary [0, " + std::to_string(vocab_size_) + ")");
    }
  }
  std::string text, error;
  if (!model_->decode(std::vector<int>(ids.begin(), ids.end()), &text, &error)) {
    sdk::fail(SURGE_ERROR_INTERNAL, "cannot detokenize: " + error);
  }
  return text;
}

}  // namespace surge::torchscript_lm
