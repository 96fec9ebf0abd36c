// A Redis reply (RESP bytes, read by the RESP reader) taken apart into
// stream entries as the worker and the gateway do: XREADGROUP replies of the
// request stream and XCLAIM lists into request entries, whose bodies then go
// to the KServe request decoder (the worker's path); XREAD replies of a reply
// stream into reply entries, whose bodies go to the KServe response decoder
// (the gateway's path).

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "fuzz_checks.hpp"
#include "redis/resp_reader.hpp"
#include "streams/entries.hpp"
#include "wire/kserve_request.hpp"
#include "wire/kserve_response.hpp"

namespace {

using namespace surge;
using fuzz::check;

void check_entries(const std::vector<streams::stream_entry>& entries) {
  for (const auto& entry : entries) {
    // The worker's path: a request entry, then its body.
    streams::request_entry request;
    if (auto refusal = streams::parse_request_entry(entry, request)) {
      fuzz::check_refusal(*refusal);
    } else {
      check(!request.id.empty() && !request.reply_to.empty() && !request.model.empty(),
            "a parsed request entry names its id, reply stream and model");
      check(request.body != nullptr, "a parsed request entry has a body");
      check(!request.header_length || *request.header_length <= request.body->size(),
            "a request entry's header_length is within its body");
      auto decoded = wire::decode_infer_request(request.body, request.header_length);
      if (auto* failure = std::get_if<error>(&decoded)) {
        fuzz::check_refusal(*failure);
      } else {
        for (const auto& input : std::get<wire::decoded_infer_request>(decoded).inputs) fuzz::check_tensor(input);
      }
    }
    // The gateway's path: a reply entry, then its body when it succeeded.
    auto reply = streams::parse_reply_entry(entry);
    if (auto* failure = std::get_if<error>(&reply)) {
      fuzz::check_refusal(*failure);
      continue;
    }
    auto& parsed = std::get<streams::reply_entry>(reply);
    check(!parsed.id.empty(), "a parsed reply entry has an id");
    check(parsed.status >= 100 && parsed.status <= 599, "a parsed reply entry's status is an HTTP status");
    if (parsed.status != 200) continue;
    auto decoded = wire::decode_infer_response(std::make_shared<const std::string>(std::move(parsed.body)),
                                               parsed.header_length);
    if (auto* failure = std::get_if<error>(&decoded)) {
      fuzz::check_refusal(*failure);
    } else {
      for (const auto& output : std::get<wire::decoded_infer_response>(decoded).outputs) fuzz::check_tensor(output);
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  redis::resp_reader reader;
  if (reader.feed(reinterpret_cast<const char*>(data), size)) return 0;
  for (;;) {
    auto next = reader.next();
    auto* reply = std::get_if<redis::reply>(&next);
    if (!reply) return 0;
    check_entries(streams::entries_of_read(*reply, "surge:requests"));
    check_entries(streams::entries_of_list(*reply));
    // XAUTOCLAIM: [cursor, [[id, [f, v, ...]], ...], [deleted ids]]
    if (reply->is_array() && reply->size() >= 2) check_entries(streams::entries_of_list((*reply)[1]));
  }
}
