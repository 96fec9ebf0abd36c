#include "score/csv_reader.hpp"

#include <sys/stat.h>

#include <cerrno>
#include <cstring>

#include "score/score_error.hpp"

namespace surge::score {

csv_reader::csv_reader(const std::string& path) : path_(path), file_(std::fopen(path.c_str(), "rb")) {
  if (file_ == nullptr) throw score_error("--from-csv " + path + ": " + std::strerror(errno));
  std::setvbuf(file_, nullptr, _IOFBF, 1 << 20);
  struct stat info {};
  if (::fstat(::fileno(file_), &info) == 0) file_size_ = static_cast<std::uint64_t>(info.st_size);
}

csv_reader::~csv_reader() { std::fclose(file_); }

int csv_reader::get() {
  const int c = std::getc(file_);
  if (c != EOF) ++bytes_read_;
  return c;
}

bool csv_reader::next(std::vector<std::optional<std::string_view>>& fields) {
  record_.clear();
  spans_.clear();
  nulls_.clear();
  int c = get();
  if (c == EOF) return false;
  const auto broken = [this](const std::string& why) {
    throw score_error("--from-csv " + path_ + ": record " + std::to_string(records_ + 1) + ": " + why);
  };
  while (true) {
    const std::size_t begin = record_.size();
    bool quoted = false;
    if (c == '"') {
      quoted = true;
      while (true) {
        c = get();
        if (c == EOF) broken("a quoted field is not closed");
        if (c == '"') {
          c = get();
          if (c != '"') break;  // the closing quote; c is what follows it
        }
        record_.push_back(static_cast<char>(c));
        if (record_.size() > max_record_bytes) broken("longer than 16 MiB");
      }
      if (c != ',' && c != '\n' && c != '\r' && c != EOF) broken("text after a closing quote");
    } else {
      while (c != ',' && c != '\n' && c != '\r' && c != EOF) {
        record_.push_back(static_cast<char>(c));
        if (record_.size() > max_record_bytes) broken("longer than 16 MiB");
        c = get();
      }
    }
    spans_.emplace_back(begin, record_.size());
    nulls_.push_back(!quoted && record_.size() == begin);
    if (c == ',') {
      c = get();
      continue;
    }
    if (c == '\r') {
      c = get();
      if (c != '\n' && c != EOF) broken("a CR not followed by LF");
    }
    break;  // LF or the end of the file
  }
  ++records_;
  fields.clear();
  for (std::size_t i = 0; i < spans_.size(); ++i) {
    if (nulls_[i]) fields.emplace_back(std::nullopt);
    else fields.emplace_back(std::string_view(record_).substr(spans_[i].first, spans_[i].second - spans_[i].first));
  }
  return true;
}

}  // namespace surge::score
