#pragma once

#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace surge::score {

// Reads RFC 4180 CSV records from a file: fields separated by commas,
// optionally quoted ("" inside quotes is a quote; quoted fields may hold
// commas and line breaks), records ending in LF or CRLF. An empty unquoted
// field is NULL; "" is the empty string. A record may not exceed
// `max_record_bytes` (a missing closing quote would otherwise read the
// whole file as one field).
class csv_reader {
 public:
  static constexpr std::size_t max_record_bytes = 16u << 20;

  // Throws score_error when the file cannot be opened.
  explicit csv_reader(const std::string& path);
  ~csv_reader();
  csv_reader(const csv_reader&) = delete;
  csv_reader& operator=(const csv_reader&) = delete;

  // The next record's fields (views valid until the next call); false at
  // the end of the file. Throws score_error naming the record on a broken one.
  bool next(std::vector<std::optional<std::string_view>>& fields);
  std::uint64_t records() const { return records_; }
  std::uint64_t bytes_read() const { return bytes_read_; }
  std::uint64_t file_size() const { return file_size_; }

 private:
  int get();

  std::string path_;
  std::FILE* file_;
  std::uint64_t file_size_{0};
  std::uint64_t bytes_read_{0};
  std::uint64_t records_{0};
  std::string record_;                                  // the current record's field bytes
  std::vector<std::pair<std::size_t, std::size_t>> spans_;  // begin, end in record_
  std::vector<bool> nulls_;
};

}  // namespace surge::score
