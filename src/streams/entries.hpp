#pragma once

// The request and reply entries of the Redis Streams contract
// (docs/redis-streams.md): building their XADD commands and reading them
// back from XREAD/XREADGROUP/XAUTOCLAIM replies.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "core/status.hpp"
#include "redis/command.hpp"
#include "redis/reply.hpp"
#include "streams/limits.hpp"

namespace surge::streams {

// One stream entry: its id and its field/value pairs in order.
struct stream_entry {
  std::string id;
  std::vector<std::pair<std::string, std::string>> fields;

  const std::string* find(std::string_view field) const;
};

// The entries of one stream in an XREAD/XREADGROUP reply
// ([[stream, [[id, [f, v, ...]], ...]], ...]); entries of other streams are
// skipped. A nil reply (BLOCK timed out) has none. Takes the reply apart
// so large bodies are moved, not copied.
std::vector<stream_entry> entries_of_read(redis::reply read, std::string_view stream);
// The entries of a plain list [[id, [f, v, ...]], ...] (XRANGE, XCLAIM, the
// second element of XAUTOCLAIM). An entry deleted meanwhile comes back with
// nil fields; it is left out.
std::vector<stream_entry> entries_of_list(redis::reply list);

struct request_entry {
  std::string id;
  std::string reply_to;
  std::string model;
  std::optional<std::int64_t> version;
  // Unix time in ms after which nobody wants the answer; nullopt: none.
  std::optional<std::int64_t> deadline_unix_ms;
  std::uint32_t priority{0};  // 0: the model's default
  std::string traceparent;
  std::optional<std::size_t> header_length;
  std::shared_ptr<const std::string> body;
  // The producer's write this entry came in: a token unique among the
  // entries sent to the same reply_to, and how many entries carry it.
  // Empty: not written as part of a batch.
  std::string batch;
  std::uint32_t batch_size{0};
};

// XADD <stream> * id ... body ...
redis::command request_xadd(std::string_view stream, const request_entry& entry);
// Fills `out`; on failure returns invalid_argument naming the field that is
// missing or malformed, with `out.id` and `out.reply_to` still filled in
// when present, so the sender can be answered.
std::optional<error> parse_request_entry(stream_entry entry, request_entry& out);

// The batch an entry was written in, as a key that is the same for every
// entry of that write (reply_to and batch) and its size; nullopt for an
// entry without (valid) batch fields.
struct batch_tag {
  std::string key;
  std::uint32_t size{0};
};
std::optional<batch_tag> batch_tag_of(const stream_entry& entry);

// Whether every entry carries a batch tag and every tagged batch is there
// in full: the producer has batched them already, so waiting for more
// only adds latency.
bool whole_batches(const std::vector<stream_entry>& entries);

struct reply_entry {
  std::string id;
  int status{200};
  std::string error;  // when status != 200
  std::optional<std::size_t> header_length;
  std::string body;  // the KServe v2 response when status == 200
  std::string worker;
};

// XADD <stream> MAXLEN ~ <max_length> * id ... status ...
redis::command reply_xadd(std::string_view stream, const reply_entry& entry,
                          std::size_t max_length = reply_stream_max_length);
std::variant<reply_entry, error> parse_reply_entry(stream_entry entry);

// The HTTP status a reply carries for an error code (docs/error-policy.md),
// and back.
int status_of(error_code code);
error_code code_of_status(int status);

}  // namespace surge::streams
