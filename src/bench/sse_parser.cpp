#include "bench/sse_parser.hpp"

namespace surge::bench {

namespace {

constexpr std::string_view utf8_bom = "\xEF\xBB\xBF";

}  // namespace

sse_parser::sse_parser(std::size_t max_event_bytes) : max_event_bytes_(max_event_bytes) {}

void sse_parser::reset() {
  line_.clear();
  data_.clear();
  type_.clear();
  start_.clear();
  at_start_ = true;
  after_cr_ = false;
  failed_ = false;
}

bool sse_parser::feed(std::string_view bytes, std::vector<sse_event>& events) {
  if (failed_) return false;
  if (at_start_) {
    // The stream may begin with one BOM, possibly split across feeds.
    while (!bytes.empty() && start_.size() < utf8_bom.size() && utf8_bom.starts_with(start_ + bytes.front())) {
      start_ += bytes.front();
      bytes.remove_prefix(1);
    }
    if (start_ == utf8_bom) {
      start_.clear();
      at_start_ = false;
    } else if (!bytes.empty()) {
      // Not a BOM after all: what was held back is ordinary text.
      at_start_ = false;
      std::string held;
      held.swap(start_);
      if (!feed(held, events)) return false;
    } else {
      return true;  // still could be a BOM
    }
  }

  for (std::size_t i = 0; i < bytes.size();) {
    const char c = bytes[i];
    if (after_cr_) {
      after_cr_ = false;
      if (c == '\n') {  // the LF of a CRLF: the line already ended at the CR
        ++i;
        continue;
      }
    }
    if (c == '\r' || c == '\n') {
      after_cr_ = c == '\r';
      process_line(events);
      if (failed_) return false;
      ++i;
      continue;
    }
    // Copy the run of ordinary bytes up to the next line end at once.
    const auto end = bytes.find_first_of("\r\n", i);
    const auto run = bytes.substr(i, end == std::string_view::npos ? std::string_view::npos : end - i);
    if (line_.size() + data_.size() + run.size() > max_event_bytes_) {
      failed_ = true;
      return false;
    }
    line_.append(run);
    i += run.size();
  }
  return true;
}

void sse_parser::process_line(std::vector<sse_event>& events) {
  if (line_.empty()) {
    // A blank line ends the event; one without data is not dispatched.
    if (!data_.empty()) {
      data_.pop_back();  // the '\n' after the last data line
      sse_event event;
      event.type = type_.empty() ? "message" : type_;
      event.data.swap(data_);
      events.push_back(std::move(event));
    }
    data_.clear();
    type_.clear();
    return;
  }
  if (line_.front() == ':') {  // a comment, often sent as a keep-alive
    line_.clear();
    return;
  }
  const std::string_view line = line_;
  const auto colon = line.find(':');
  const std::string_view field = line.substr(0, colon);
  std::string_view value = colon == std::string_view::npos ? std::string_view{} : line.substr(colon + 1);
  if (value.starts_with(' ')) value.remove_prefix(1);
  if (field == "data") {
    if (data_.size() + value.size() + 1 > max_event_bytes_) {
      failed_ = true;
      return;
    }
    data_.append(value);
    data_ += '\n';
  } else if (field == "event") {
    type_.assign(value);
  }
  // "id" and "retry" matter to a reconnecting browser, not to a load
  // generator; unknown fields are ignored, as the standard says.
  line_.clear();
}

}  // namespace surge::bench
