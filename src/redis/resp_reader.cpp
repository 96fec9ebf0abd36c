#include "redis/resp_reader.hpp"

#include <hiredis.h>

#include <new>
#include <string>

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

namespace {

void* (*default_create_array)(const redisReadTask*, int) = nullptr;

// Counts what the reply announced so far (the reader's privdata, which
// hiredis hands every task). Refusing to create an object makes the reader
// fail with REDIS_ERR_OOM.
void* create_bounded_array(const redisReadTask* task, int elements) {
  auto& announced = *static_cast<std::size_t*>(task->privdata);
  announced += static_cast<std::size_t>(elements);
  if (announced > resp_reader::max_reply_elements) return nullptr;
  return default_create_array(task, elements);
}

// hiredis's reply functions with array creation bounded, made once from the
// first reader's (hiredis's static defaults).
redisReplyObjectFunctions* bounded_functions(const redisReplyObjectFunctions* defaults) {
  static redisReplyObjectFunctions bounded = [defaults] {
    auto functions = *defaults;
    default_create_array = functions.createArray;
    functions.createArray = create_bounded_array;
    return functions;
  }();
  return &bounded;
}

}  // namespace

resp_reader::resp_reader() : reader_(redisReaderCreate()) {
  if (!reader_) throw std::bad_alloc();
  reader_->fn = bounded_functions(reader_->fn);
  reader_->privdata = &announced_elements_;
}

resp_reader::~resp_reader() { redisReaderFree(reader_); }

std::optional<resp_reader::protocol_error> resp_reader::feed(const char* data, std::size_t size) {
  if (redisReaderFeed(reader_, data, size) != REDIS_OK) return protocol_error{reader_->errstr};
  return std::nullopt;
}

resp_reader::result resp_reader::next() {
  void* raw = nullptr;
  if (redisReaderGetReply(reader_, &raw) != REDIS_OK) {
    if (reader_->err == REDIS_ERR_OOM) {
      return protocol_error{"a reply announces more than " + std::to_string(max_reply_elements) +
                            " array elements, or memory ran out"};
    }
    return protocol_error{reader_->errstr};
  }
  if (!raw) return need_more{};
  announced_elements_ = 0;  // the next reply starts
  auto* parsed = static_cast<redisReply*>(raw);
  auto converted = reply_from_hiredis(*parsed);
  freeReplyObject(parsed);
  return converted;
}

}  // namespace surge::redis
