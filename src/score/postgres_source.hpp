#pragma once

#include <memory>
#include <string>
#include <vector>

#include "score/postgres_connection.hpp"
#include "score/row_source.hpp"

namespace surge::score {

// Rows of a table or of a query, in key order, read through one cursor in
// a read-only REPEATABLE READ transaction: one sort, one consistent snapshot
// however long the run, and a rerun continues with `key > last committed
// key` (keyset, never OFFSET, so rows added or removed meanwhile neither
// repeat nor go missing). Rows with a NULL key are counted, not read.
class postgres_source final : public row_source {
 public:
  // `relation`: a table name (`--table`) or, with `is_query`, a SELECT
  // (`--query`). Checks at once that the key and columns exist.
  // `count_rows`: count the rows to read when the cursor opens (one more
  // scan, for done_fraction's progress and ETA; nullopt without it).
  postgres_source(const std::string& conninfo, const std::string& relation, bool is_query, std::string key,
                  std::vector<std::string> columns, bool count_rows = false);

  void resume(const source_position& position) override;
  row_page next_page(std::size_t max_rows) override;
  source_position position() const override { return position_; }
  bool key_is_integer() const override { return key_is_integer_; }
  std::string describe() const override { return description_; }
  std::optional<double> done_fraction() const override;
  std::uint64_t rows_without_key() const override { return rows_without_key_; }

 private:
  void open_cursor();

  postgres_connection connection_;
  std::string from_;    // the FROM clause
  std::string select_;  // key, then columns
  std::string key_sql_;
  std::string description_;
  std::size_t columns_;
  bool key_is_integer_{false};
  bool count_rows_{false};
  bool open_{false};
  source_position position_;
  std::uint64_t start_rows_read_{0};
  std::uint64_t to_read_{0};  // rows after the resume point, counted when the cursor opens
  std::uint64_t rows_without_key_{0};
};

}  // namespace surge::score
