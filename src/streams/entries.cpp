#include "streams/entries.hpp"

#include "core/client_text.hpp"

#include <charconv>
#include <map>

namespace surge::streams {

namespace {

template <typename Number>
std::optional<Number> parse_number(std::string_view text) {
  Number value{};
  if (text.empty()) return std::nullopt;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc{} || end != text.data() + text.size()) return std::nullopt;
  return value;
}

error invalid(std::string message) { return make_error(error_code::invalid_argument, std::move(message)); }

std::optional<stream_entry> entry_of(redis::reply& raw) {
  if (!raw.is_array() || raw.size() != 2 || !raw.elements()[0].is_string()) return std::nullopt;
  auto& fields = raw.elements()[1];
  if (!fields.is_array()) return std::nullopt;  // deleted while pending
  stream_entry entry;
  entry.id = raw.elements()[0].take_text();
  auto& values = fields.elements();
  entry.fields.reserve(values.size() / 2);
  for (std::size_t i = 0; i + 1 < values.size(); i += 2) {
    entry.fields.emplace_back(values[i].take_text(), values[i + 1].take_text());
  }
  return entry;
}

}  // namespace

const std::string* stream_entry::find(std::string_view field) const {
  for (const auto& [name, value] : fields) {
    if (name == field) return &value;
  }
  return nullptr;
}

std::vector<stream_entry> entries_of_list(redis::reply list) {
  std::vector<stream_entry> out;
  if (!list.is_array()) return out;
  out.reserve(list.size());
  for (auto& raw : list.elements()) {
    if (auto entry = entry_of(raw)) out.push_back(std::move(*entry));
  }
  return out;
}

std::vector<stream_entry> entries_of_read(redis::reply read, std::string_view stream) {
  if (!read.is_array()) return {};
  for (auto& per_stream : read.elements()) {
    if (!per_stream.is_array() || per_stream.size() != 2) continue;
    if (per_stream[0].text() != stream) continue;
    return entries_of_list(std::move(per_stream.elements()[1]));
  }
  return {};
}

redis::command request_xadd(std::string_view stream, const request_entry& entry) {
  redis::command c{"XADD", stream, "*"};
  c.arg("id").arg(entry.id);
  c.arg("reply_to").arg(entry.reply_to);
  c.arg("model").arg(entry.model);
  if (entry.version) c.arg("version").arg(*entry.version);
  if (entry.deadline_unix_ms) c.arg("deadline").arg(*entry.deadline_unix_ms);
  if (entry.priority != 0) c.arg("priority").arg(static_cast<std::uint64_t>(entry.priority));
  if (!entry.traceparent.empty()) c.arg("traceparent").arg(entry.traceparent);
  if (entry.header_length) c.arg("header_length").arg(static_cast<std::uint64_t>(*entry.header_length));
  if (!entry.batch.empty()) {
    c.arg("batch").arg(entry.batch).arg("batch_size").arg(static_cast<std::uint64_t>(entry.batch_size));
  }
  c.arg("body").arg(entry.body ? std::string_view(*entry.body) : std::string_view{});
  return c;
}

std::optional<batch_tag> batch_tag_of(const stream_entry& entry) {
  const auto* batch = entry.find("batch");
  const auto* size = entry.find("batch_size");
  const auto* reply_to = entry.find("reply_to");
  if (!batch || !size || !reply_to || batch->empty()) return std::nullopt;
  auto count = parse_number<std::uint32_t>(*size);
  if (!count || *count == 0) return std::nullopt;
  return batch_tag{*reply_to + '\n' + *batch, *count};
}

bool whole_batches(const std::vector<stream_entry>& entries) {
  std::map<std::string, std::pair<std::uint32_t, std::uint32_t>> seen;  // key -> (size, entries here)
  for (const auto& entry : entries) {
    auto tag = batch_tag_of(entry);
    if (!tag) return false;
    auto& [size, here] = seen[tag->key];
    size = tag->size;
    ++here;
  }
  for (const auto& [key, counts] : seen) {
    if (counts.second < counts.first) return false;
  }
  return true;
}

std::optional<error> parse_request_entry(stream_entry entry, request_entry& partial) {
  if (const auto* id = entry.find("id")) partial.id = *id;
  if (const auto* reply_to = entry.find("reply_to")) partial.reply_to = *reply_to;
  if (partial.id.empty()) return invalid("entry " + entry.id + " has no \"id\" field");
  if (partial.reply_to.empty()) return invalid("entry " + entry.id + " has no \"reply_to\" field");
  const auto* model = entry.find("model");
  if (!model || model->empty()) return invalid("request entry has no \"model\" field");
  partial.model = *model;

  if (const auto* version = entry.find("version"); version && !version->empty()) {
    auto value = parse_number<std::int64_t>(*version);
    if (!value || *value < 1) {
      return invalid("field \"version\" is '" + client_text(*version) + "', not a version number");
    }
    partial.version = *value;
  }
  if (const auto* deadline = entry.find("deadline"); deadline && !deadline->empty()) {
    auto value = parse_number<std::int64_t>(*deadline);
    if (!value || *value < 0) {
      return invalid("field \"deadline\" is '" + client_text(*deadline) + "', not unix milliseconds");
    }
    if (*value > 0) partial.deadline_unix_ms = *value;
  }
  if (const auto* priority = entry.find("priority"); priority && !priority->empty()) {
    auto value = parse_number<std::uint32_t>(*priority);
    if (!value) return invalid("field \"priority\" is '" + client_text(*priority) + "', not a non-negative integer");
    partial.priority = *value;
  }
  if (const auto* trace = entry.find("traceparent")) partial.traceparent = *trace;
  // Only a hint for filling batches: malformed batch fields are ignored.
  if (auto tag = batch_tag_of(entry)) {
    partial.batch = *entry.find("batch");
    partial.batch_size = tag->size;
  }
  auto* body = const_cast<std::string*>(entry.find("body"));
  if (!body) return invalid("request entry has no \"body\" field");
  if (const auto* length = entry.find("header_length"); length && !length->empty()) {
    auto value = parse_number<std::size_t>(*length);
    if (!value) return invalid("field \"header_length\" is '" + client_text(*length) + "', not a byte count");
    if (*value > body->size()) {
      return invalid("field \"header_length\" is " + *length + " but the body has " + std::to_string(body->size()) +
                     " bytes");
    }
    partial.header_length = *value;
  }
  partial.body = std::make_shared<const std::string>(std::move(*body));
  return std::nullopt;
}

redis::command reply_xadd(std::string_view stream, const reply_entry& entry, std::size_t max_length) {
  redis::command c{"XADD", stream, "MAXLEN", "~"};
  c.arg(static_cast<std::uint64_t>(max_length)).arg("*");
  c.arg("id").arg(entry.id);
  c.arg("status").arg(entry.status);
  if (entry.status != 200) c.arg("error").arg(entry.error);
  if (entry.header_length) c.arg("header_length").arg(static_cast<std::uint64_t>(*entry.header_length));
  if (entry.status == 200) c.arg("body").arg(entry.body);
  if (!entry.worker.empty()) c.arg("worker").arg(entry.worker);
  return c;
}

std::variant<reply_entry, error> parse_reply_entry(stream_entry entry) {
  reply_entry out;
  bool has_status = false;
  for (auto& [name, value] : entry.fields) {
    if (name == "id") {
      out.id = std::move(value);
    } else if (name == "status") {
      auto status = parse_number<int>(value);
      if (!status || *status < 100 || *status > 599) {
        return invalid("reply field \"status\" is '" + client_text(value) + "'");
      }
      out.status = *status;
      has_status = true;
    } else if (name == "error") {
      out.error = std::move(value);
    } else if (name == "header_length") {
      if (value.empty()) continue;
      auto length = parse_number<std::size_t>(value);
      if (!length) return invalid("reply field \"header_length\" is '" + client_text(value) + "'");
      out.header_length = *length;
    } else if (name == "body") {
      out.body = std::move(value);
    } else if (name == "worker") {
      out.worker = std::move(value);
    }
  }
  if (out.id.empty()) return invalid("reply entry " + entry.id + " has no \"id\" field");
  if (!has_status) return invalid("reply entry " + entry.id + " has no \"status\" field");
  return out;
}

int status_of(error_code code) {
  switch (code) {
    case error_code::invalid_argument:
      return 400;
    case error_code::not_found:
      return 404;
    case error_code::unavailable:
      return 429;
    case error_code::not_ready:
      return 503;
    case error_code::deadline_exceeded:
      return 504;
    case error_code::cancelled:
      return 499;
    case error_code::internal:
      break;
  }
  return 500;
}

error_code code_of_status(int status) {
  switch (status) {
    case 400:
      return error_code::invalid_argument;
    case 404:
      return error_code::not_found;
    case 429:
      return error_code::unavailable;
    case 503:
      return error_code::not_ready;
    case 504:
      return error_code::deadline_exceeded;
    case 499:
      return error_code::cancelled;
    default:
      return error_code::internal;
  }
}

}  // namespace surge::streams
