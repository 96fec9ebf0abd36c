#pragma once

#include <string>
#include <vector>

#include "score/csv_reader.hpp"
#include "score/row_source.hpp"

namespace surge::score {

// Rows of a CSV file with a header line, in file order; a rerun skips the
// rows the ledger says were committed. Every column is text; the key's type
// is not known, so keys are written as text.
class csv_source final : public row_source {
 public:
  // Throws score_error when the file cannot be read or the header lacks the
  // key or a column.
  csv_source(const std::string& path, const std::string& key, const std::vector<std::string>& columns);

  void resume(const source_position& position) override;
  row_page next_page(std::size_t max_rows) override;
  source_position position() const override { return position_; }
  bool key_is_integer() const override { return false; }
  std::string describe() const override { return description_; }
  std::optional<double> done_fraction() const override;

 private:
  csv_reader reader_;
  std::string path_;
  std::string description_;
  std::vector<std::size_t> picks_;  // header index of the key, then of each column
  std::size_t header_width_{0};
  source_position position_;
  std::uint64_t start_bytes_{0};
  std::vector<std::optional<std::string_view>> fields_;
};

}  // namespace surge::score
