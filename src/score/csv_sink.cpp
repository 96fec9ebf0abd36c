#include "score/csv_sink.hpp"

#include <fcntl.h>
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "score/score_error.hpp"

namespace surge::score {

namespace {

[[noreturn]] void fail(const std::string& path, const std::string& what) {
  throw score_error(path + ": " + what + ": " + std::strerror(errno));
}

std::FILE* open_at(const std::string& path, std::uint64_t size, bool keep) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | (keep ? 0 : O_TRUNC), 0644);
  if (fd < 0) fail(path, "cannot open");
  if (keep && ::ftruncate(fd, static_cast<off_t>(size)) != 0) fail(path, "cannot cut back to the committed size");
  if (::lseek(fd, 0, SEEK_END) < 0) fail(path, "cannot seek");
  std::FILE* file = ::fdopen(fd, "ab");
  if (file == nullptr) fail(path, "cannot open");
  return file;
}

}  // namespace

void append_csv_field(std::string& out, std::string_view value) {
  if (!value.empty() && value.find_first_of(",\"\r\n") == std::string_view::npos) {
    out.append(value);
    return;
  }
  out += '"';
  for (const char c : value) {
    if (c == '"') out += '"';
    out += c;
  }
  out += '"';
}

csv_sink::csv_sink(std::string path, std::string reject_path, std::string key, std::vector<output_binding> outputs)
    : path_(std::move(path)),
      reject_path_(std::move(reject_path)),
      ledger_path_(path_ + ".ledger"),
      key_(std::move(key)),
      outputs_(std::move(outputs)) {}

csv_sink::~csv_sink() {
  if (scores_) std::fclose(scores_);
  if (rejects_) std::fclose(rejects_);
}

std::optional<ledger_entry> csv_sink::open(const std::string& run_id, const std::string& source, bool) {
  run_id_ = run_id;
  source_ = source;
  std::optional<ledger_entry> entry;
  if (std::ifstream in(ledger_path_); in) {
    std::stringstream text;
    text << in.rdbuf();
    rapidjson::Document ledger;
    ledger.Parse(text.str().c_str());
    const auto is_string = [&](const char* name) { return ledger.HasMember(name) && ledger[name].IsString(); };
    const auto is_count = [&](const char* name) { return ledger.HasMember(name) && ledger[name].IsUint64(); };
    if (ledger.HasParseError() || !ledger.IsObject() || !is_string("run_id") || !is_string("source") ||
        !is_count("rows_read") || !is_count("rows_scored") || !is_count("rows_rejected") ||
        !is_count("scores_bytes") || !is_count("rejects_bytes")) {
      throw score_error(ledger_path_ + ": not a surge score ledger; remove it (and " + path_ + ") to start afresh");
    }
    if (run_id_ == ledger["run_id"].GetString()) {
      entry.emplace();
      entry->source = ledger["source"].GetString();
      if (is_string("last_key")) entry->position.last_key = ledger["last_key"].GetString();
      entry->position.rows_read = ledger["rows_read"].GetUint64();
      entry->totals = {ledger["rows_read"].GetUint64(), ledger["rows_scored"].GetUint64(),
                       ledger["rows_rejected"].GetUint64()};
      entry->finished = ledger.HasMember("finished") && ledger["finished"].IsBool() && ledger["finished"].GetBool();
      scores_bytes_ = ledger["scores_bytes"].GetUint64();
      rejects_bytes_ = ledger["rejects_bytes"].GetUint64();
    }
  }
  scores_ = open_at(path_, scores_bytes_, entry.has_value());
  rejects_ = open_at(reject_path_, rejects_bytes_, entry.has_value());
  if (!entry) {
    std::string header;
    append_csv_field(header, key_);
    for (const auto& output : outputs_) {
      header += ',';
      append_csv_field(header, output.column);
    }
    header += '\n';
    append(scores_, path_, header);
    std::string reject_header;
    append_csv_field(reject_header, key_);
    reject_header += ",reason,row_values\n";
    append(rejects_, reject_path_, reject_header);
    scores_bytes_ = header.size();
    rejects_bytes_ = reject_header.size();
    write_ledger({}, {}, false);
  }
  return entry;
}

void csv_sink::append(std::FILE* file, const std::string& path, const std::string& text) {
  if (std::fwrite(text.data(), 1, text.size(), file) != text.size() || std::fflush(file) != 0) fail(path, "cannot write");
  if (::fdatasync(::fileno(file)) != 0) fail(path, "cannot flush to disk");
}

void csv_sink::write_ledger(const source_position& position, const run_totals& totals, bool finished) {
  rapidjson::StringBuffer text;
  rapidjson::Writer<rapidjson::StringBuffer> json(text);
  json.StartObject();
  json.Key("run_id");
  json.String(run_id_.c_str(), static_cast<rapidjson::SizeType>(run_id_.size()));
  json.Key("source");
  json.String(source_.c_str(), static_cast<rapidjson::SizeType>(source_.size()));
  json.Key("last_key");
  if (position.last_key) json.String(position.last_key->c_str(), static_cast<rapidjson::SizeType>(position.last_key->size()));
  else json.Null();
  json.Key("rows_read");
  json.Uint64(totals.rows_read);
  json.Key("rows_scored");
  json.Uint64(totals.rows_scored);
  json.Key("rows_rejected");
  json.Uint64(totals.rows_rejected);
  json.Key("scores_bytes");
  json.Uint64(scores_bytes_);
  json.Key("rejects_bytes");
  json.Uint64(rejects_bytes_);
  json.Key("finished");
  json.Bool(finished);
  json.EndObject();
  const auto temporary = ledger_path_ + ".next";
  const int fd = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) fail(temporary, "cannot open");
  const std::string body = std::string(text.GetString(), text.GetSize()) + "\n";
  const bool written = ::write(fd, body.data(), body.size()) == static_cast<ssize_t>(body.size()) && ::fsync(fd) == 0;
  ::close(fd);
  if (!written) fail(temporary, "cannot write");
  if (std::rename(temporary.c_str(), ledger_path_.c_str()) != 0) fail(ledger_path_, "cannot replace");
}

void csv_sink::commit(const page_result& page, const run_totals& totals) {
  const auto width = outputs_.size();
  if (!page.keys.empty()) {
    buffer_.clear();
    for (std::size_t r = 0; r < page.keys.size(); ++r) {
      append_csv_field(buffer_, page.keys[r]);
      for (std::size_t c = 0; c < width; ++c) {
        buffer_ += ',';
        append_csv_field(buffer_, page.values[r * width + c]);
      }
      buffer_ += '\n';
    }
    append(scores_, path_, buffer_);
    scores_bytes_ += buffer_.size();
  }
  if (!page.rejects.empty()) {
    buffer_.clear();
    for (const auto& reject : page.rejects) {
      append_csv_field(buffer_, reject.key);
      buffer_ += ',';
      append_csv_field(buffer_, reject.reason);
      buffer_ += ',';
      append_csv_field(buffer_, reject.row_values);
      buffer_ += '\n';
    }
    append(rejects_, reject_path_, buffer_);
    rejects_bytes_ += buffer_.size();
  }
  write_ledger(page.position, totals, false);
}

void csv_sink::finish(const source_position& position, const run_totals& totals) {
  write_ledger(position, totals, true);
}

}  // namespace surge::score
