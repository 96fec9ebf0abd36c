// Bytes from a Redis server, fed to the RESP reader the Redis connection
// uses. Fed twice: all at once, and in pieces whose sizes come from the input
// (as a socket delivers them); both must give the same replies, then the
// same end (more bytes needed, or a protocol error with a message).

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "fuzz_checks.hpp"
#include "redis/resp_reader.hpp"

namespace {

using surge::fuzz::check;
using surge::redis::resp_reader;

struct outcome {
  std::vector<std::string> replies;  // each reply's describe()
  bool protocol_error{false};
};

// Takes every reply out; stops at the first protocol error.
bool drain(resp_reader& reader, outcome& out) {
  for (;;) {
    auto next = reader.next();
    if (std::holds_alternative<resp_reader::need_more>(next)) return true;
    if (auto* problem = std::get_if<resp_reader::protocol_error>(&next)) {
      check(!problem->message.empty(), "a RESP protocol error has a message");
      out.protocol_error = true;
      return false;
    }
    out.replies.push_back(std::get<surge::redis::reply>(next).describe());
  }
}

bool feed(resp_reader& reader, const char* data, std::size_t size, outcome& out) {
  if (auto problem = reader.feed(data, size)) {
    check(!problem->message.empty(), "a RESP feed error has a message");
    out.protocol_error = true;
    return false;
  }
  return drain(reader, out);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  // The first byte picks the piece size for the second reading.
  const std::size_t piece = 1 + data[0] % 16;
  const auto* bytes = reinterpret_cast<const char*>(data + 1);
  const std::size_t length = size - 1;

  outcome whole;
  {
    resp_reader reader;
    feed(reader, bytes, length, whole);
  }
  outcome pieces;
  {
    resp_reader reader;
    for (std::size_t at = 0; at < length; at += piece) {
      if (!feed(reader, bytes + at, std::min(piece, length - at), pieces)) break;
    }
  }
  check(whole.replies == pieces.replies, "RESP replies do not depend on how the bytes were split");
  check(whole.protocol_error == pieces.protocol_error, "a RESP protocol error does not depend on the split");
  return 0;
}
