#pragma once

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <variant>

#include "redis/reply.hpp"

struct redisReader;
struct redisReply;

namespace surge::redis {

// Turns a reply hiredis parsed into a reply value (deep copy).
reply reply_from_hiredis(const redisReply& raw);

// Incremental RESP parser: hiredis's reader fed with whatever bytes the
// socket delivered. Replies come out whole, in the order they arrived.
class resp_reader {
 public:
  // The most array elements one reply may announce, its nested arrays
  // counted too. hiredis 0.14 allocates a pointer per announced element as
  // soon as it reads "*<count>\r\n", before any element arrives, so a few
  // bytes could otherwise make the process allocate gigabytes; more is a
  // protocol error.
  static constexpr std::size_t max_reply_elements = 1 << 20;

  struct need_more {};
  // The stream is not RESP; the connection cannot be trusted any more.
  struct protocol_error {
    std::string message;
  };
  using result = std::variant<need_more, reply, protocol_error>;

  resp_reader();
  ~resp_reader();
  resp_reader(const resp_reader&) = delete;
  resp_reader& operator=(const resp_reader&) = delete;

  // Returns a protocol_error when the reader refuses the bytes.
  std::optional<protocol_error> feed(const char* data, std::size_t size);
  result next();

 private:
  redisReader* reader_;
  std::size_t announced_elements_{0};  // by the reply being read; hiredis's privdata points here
};

}  // namespace surge::redis
