// The seam between the torchscript_lm backend and libsentencepiece.
//
// Debian's libsentencepiece carries its own copy of protobuf (3.14) and
// exports it under the same symbol names as the system libprotobuf (3.21),
// which the server and libtorch load. Linked into the backend, its calls would
// bind to the server's protobuf and fail the version check. So SentencePiece
// lives in its own library, libsurge_sentencepiece.so, that the backend opens
// with RTLD_DEEPBIND: its symbols, and its protobuf's, resolve inside it first.
// Both sides share one libstdc++, so the interface may use C++ types; no
// exception crosses it.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace surge::torchscript_lm {

class piece_model {
 public:
  virtual ~piece_model() = default;
  virtual int vocab_size() const = 0;
  virtual int bos_id() const = 0;  // -1: undefined
  virtual int eos_id() const = 0;  // -1: undefined
  // Thread-safe. False with *error set on failure.
  virtual bool encode(std::string_view text, std::vector<int>* ids, std::string* error) const = 0;
  virtual bool decode(const std::vector<int>& ids, std::string* text, std::string* error) const = 0;
};

// Exported by libsurge_sentencepiece.so: loads a SentencePiece model file;
// nullptr with *error set on failure. The caller owns the result.
using load_piece_model_fn = piece_model* (*)(const char* path, std::string* error);
inline constexpr const char* load_piece_model_symbol = "surge_load_sentencepiece";
inline constexpr const char* piece_model_library = "libsurge_sentencepiece.so";

}  // namespace surge::torchscript_lm
