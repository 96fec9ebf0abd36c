#pragma once

// An incremental parser of a text/event-stream body (the Server-Sent Events
// format of the HTML standard, as OpenAI-compatible servers stream tokens).
// Bytes are fed as they arrive, split anywhere (inside a line, inside a CRLF,
// inside a UTF-8 character), and each complete event comes out as soon as its
// terminating blank line has been seen, so a load generator can time every
// event at the moment it became complete.

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace surge::bench {

struct sse_event {
  std::string type{"message"};  // the "event:" field; "message" when none
  std::string data;             // "data:" lines joined with '\n'
};

class sse_parser {
 public:
  // An event (or a line) larger than this is an error rather than unbounded memory.
  static constexpr std::size_t default_max_event_bytes = 4 * 1024 * 1024;

  explicit sse_parser(std::size_t max_event_bytes = default_max_event_bytes);

  // Parses `bytes` and appends every event it completes to `events`. Returns
  // false once the stream is over the size limit; everything fed after that
  // is ignored.
  bool feed(std::string_view bytes, std::vector<sse_event>& events);

  bool failed() const { return failed_; }
  // Bytes held in an unfinished line or event: non-zero at the end of a body
  // means it ended mid-event (that event was never dispatched).
  std::size_t pending_bytes() const { return start_.size() + line_.size() + data_.size(); }

  void reset();

 private:
  void process_line(std::vector<sse_event>& events);

  std::size_t max_event_bytes_;
  std::string line_;  // the current line, without its terminator
  std::string data_;  // data lines of the event being built, each followed by '\n'
  std::string type_;
  std::string start_;       // the first bytes, until they are known to be a UTF-8 BOM (skipped) or not
  bool at_start_{true};
  bool after_cr_{false};    // the last byte was CR: a following LF belongs to it
  bool failed_{false};
};

}  // namespace surge::bench
