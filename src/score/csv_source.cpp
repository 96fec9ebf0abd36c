#include "score/csv_source.hpp"

#include <algorithm>

#include "score/score_error.hpp"

namespace surge::score {

csv_source::csv_source(const std::string& path, const std::string& key, const std::vector<std::string>& columns)
    : reader_(path), path_(path), description_("csv " + path + " by " + key) {
  if (!reader_.next(fields_)) throw score_error("--from-csv " + path + ": the file is empty (a header line is needed)");
  std::vector<std::string> header;
  for (const auto& field : fields_) header.emplace_back(field.value_or(""));
  header_width_ = header.size();
  const auto find = [&](const std::string& name, const char* flag) {
    const auto found = std::find(header.begin(), header.end(), name);
    if (found == header.end()) {
      throw score_error(std::string(flag) + ": column '" + name + "' is not in the header of " + path);
    }
    return static_cast<std::size_t>(found - header.begin());
  };
  picks_.push_back(find(key, "--key"));
  for (const auto& column : columns) picks_.push_back(find(column, "--input"));
  start_bytes_ = reader_.bytes_read();
}

void csv_source::resume(const source_position& position) {
  while (position_.rows_read < position.rows_read) {
    if (!reader_.next(fields_)) {
      throw score_error("--from-csv " + path_ + ": the run committed " + std::to_string(position.rows_read) +
                        " rows but the file has only " + std::to_string(position_.rows_read) +
                        "; it is not the file this run id read");
    }
    ++position_.rows_read;
  }
  position_.last_key = position.last_key;
  start_bytes_ = reader_.bytes_read();
}

row_page csv_source::next_page(std::size_t max_rows) {
  row_page page(picks_.size() - 1);
  while (page.rows() < max_rows && reader_.next(fields_)) {
    if (fields_.size() != header_width_) {
      // Short or long records: their fields cannot be matched to columns;
      // the row is still returned, unreadable, and is rejected. Its key is
      // kept when it can be found.
      page.add_cell(picks_[0] < fields_.size() ? fields_[picks_[0]] : std::nullopt);
      for (std::size_t i = 1; i < picks_.size(); ++i) page.add_cell(std::nullopt);
      page.mark_unreadable(page.rows() - 1, "record has " + std::to_string(fields_.size()) + " field(s), the header " +
                                                std::to_string(header_width_));
    } else {
      for (const auto pick : picks_) page.add_cell(fields_[pick]);
    }
    ++position_.rows_read;
  }
  if (page.rows() > 0) {
    const auto key = page.key(page.rows() - 1);
    position_.last_key = key ? std::string(*key) : std::string();
  }
  return page;
}

std::optional<double> csv_source::done_fraction() const {
  const auto total = reader_.file_size();
  if (total <= start_bytes_) return std::nullopt;
  return static_cast<double>(reader_.bytes_read() - start_bytes_) / static_cast<double>(total - start_bytes_);
}

}  // namespace surge::score
