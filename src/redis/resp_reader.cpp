#include "redis/resp_reader.hpp"

#include <hiredis.h>

#include <new>

namespace surge::redis {

reply reply_from_hiredis(const redisReply& raw) {
  switch (raw.type) {
    case REDIS_REPLY_STRING:
      return reply::string(std::string(raw.str, raw.len));
    case REDIS_REPLY_STATUS:
      return reply::status(std::string(raw.str, raw.len));
    case REDIS_REPLY_ERROR:
      return reply::server_error(std::string(raw.str, raw.len));
    case REDIS_REPLY_INTEGER:
      return reply::integer(raw.integer);
    case REDIS_REPLY_ARRAY: {
      std::vector<reply> elements;
      elements.reserve(raw.elements);
      for (std::size_t i = 0; i < raw.elements; ++i) {
        elements.push_back(raw.element[i] ? reply_from_hiredis(*raw.element[i]) : reply::nil());
      }
      return reply::array(std::move(elements));
    }
    case REDIS_REPLY_NIL:
    default:
      return reply::nil();
  }
}

resp_reader::resp_reader() : reader_(redisReaderCreate()) {
  if (!reader_) throw std::bad_alloc();
}

resp_reader::~resp_reader() { redisReaderFree(reader_); }

std::optional<resp_reader::protocol_error> resp_reader::feed(const char* data, std::size_t size) {
  if (redisReaderFeed(reader_, data, size) != REDIS_OK) return protocol_error{reader_->errstr};
  return std::nullopt;
}

resp_reader::result resp_reader::next() {
  void* raw = nullptr;
  if (redisReaderGetReply(reader_, &raw) != REDIS_OK) return protocol_error{reader_->errstr};
  if (!raw) return need_more{};
  auto* parsed = static_cast<redisReply*>(raw);
  auto converted = reply_from_hiredis(*parsed);
  freeReplyObject(parsed);
  return converted;
}

}  // namespace surge::redis
