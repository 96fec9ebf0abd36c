#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace surge::score {

// A page of rows as text, the way a source reads them: per row the key and
// the values of column_mapping::source_columns, each possibly NULL. Cells
// live in one buffer, so a page costs a few allocations, not one per cell.
class row_page {
 public:
  explicit row_page(std::size_t columns) : width_(columns + 1) {}

  // A row is its key, then `columns` cells, added in that order.
  void add_cell(std::optional<std::string_view> value) {
    if (value) bytes_.append(*value);
    ends_.push_back(static_cast<std::uint32_t>(bytes_.size()));
    nulls_.push_back(!value.has_value());
  }

  std::size_t rows() const { return ends_.size() / width_; }
  std::size_t columns() const { return width_ - 1; }
  std::optional<std::string_view> key(std::size_t row) const { return cell_at(row * width_); }
  std::optional<std::string_view> cell(std::size_t row, std::size_t column) const {
    return cell_at(row * width_ + 1 + column);
  }
  std::size_t byte_size() const { return bytes_.size(); }

  // The source could not read the row's cells (a CSV record with too few or
  // too many fields): it is rejected with this reason.
  void mark_unreadable(std::size_t row, std::string reason) { unreadable_.emplace_back(row, std::move(reason)); }
  const std::string* unreadable(std::size_t row) const {
    for (const auto& [r, reason] : unreadable_) {
      if (r == row) return &reason;
    }
    return nullptr;
  }

 private:
  std::optional<std::string_view> cell_at(std::size_t i) const {
    if (nulls_[i]) return std::nullopt;
    const std::uint32_t begin = i == 0 ? 0 : ends_[i - 1];
    return std::string_view(bytes_).substr(begin, ends_[i] - begin);
  }

  std::size_t width_;
  std::string bytes_;
  std::vector<std::uint32_t> ends_;
  std::vector<bool> nulls_;
  std::vector<std::pair<std::size_t, std::string>> unreadable_;  // few: a linear search is enough
};

// Where a source stands after a page: the last key it returned (keyset
// sources resume after it) and how many rows it has read in all (file
// sources resume by skipping that many).
struct source_position {
  std::optional<std::string> last_key;
  std::uint64_t rows_read{0};
};

}  // namespace surge::score
