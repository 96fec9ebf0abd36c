// libsurge_sentencepiece.so: SentencePiece behind the piece_model interface
// (see piece_model.hpp for why it is a library of its own).
#include <sentencepiece_processor.h>

#include <exception>
#include <memory>

#include "piece_model.hpp"

namespace {

class sentencepiece_model final : public surge::torchscript_lm::piece_model {
 public:
  int vocab_size() const override { return processor_.GetPieceSize(); }
  int bos_id() const override { return processor_.bos_id(); }
  int eos_id() const override { return processor_.eos_id(); }

  bool encode(std::string_view text, std::vector<int>* ids, std::string* error) const override {
    const auto status = processor_.Encode(text, ids);
    if (!status.ok()) *error = status.ToString();
    return status.ok();
  }

  bool decode(const std::vector<int>& ids, std::string* text, std::string* error) const override {
    const auto status = processor_.Decode(ids, text);
    if (!status.ok()) *error = status.ToString();
    return status.ok();
  }

  sentencepiece::SentencePieceProcessor processor_;
};

}  // namespace

extern "C" __attribute__((visibility("default"))) surge::torchscript_lm::piece_model* surge_load_sentencepiece(
    const char* path, std::string* error) {
  try {
    auto model = std::make_unique<sentencepiece_model>();
    if (const auto status = model->processor_.Load(path); !status.ok()) {
      *error = status.ToString();
      return nullptr;
    }
    return model.release();
  } catch (const std::exception& e) {
    *error = e.what();
    return nullptr;
  }
}
