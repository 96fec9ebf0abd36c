#pragma once

#include <cstddef>
#include <optional>
#include <string>

#include "score/row_page.hpp"

namespace surge::score {

// Where rows come from, one page at a time, in an order that a rerun can
// continue (key order for a database, file order for a file). Reading
// blocks; surge score reads on its own thread. Failures throw score_error.
class row_source {
 public:
  virtual ~row_source() = default;

  // Continue after `position` (the ledger's), before the first page.
  virtual void resume(const source_position& position) = 0;
  // Up to `max_rows` rows; none at the end.
  virtual row_page next_page(std::size_t max_rows) = 0;
  // After the last page returned.
  virtual source_position position() const = 0;
  // The key's SQL type is an integer one (the output table's key column is
  // then bigint, else text).
  virtual bool key_is_integer() const = 0;
  // What the ledger records: a rerun of the run id must read the same.
  virtual std::string describe() const = 0;
  // How much of this invocation's work is done, when known (progress, ETA).
  virtual std::optional<double> done_fraction() const = 0;
  // Rows the source holds but cannot be scored by key (a NULL key): never
  // returned, only counted.
  virtual std::uint64_t rows_without_key() const { return 0; }
};

}  // namespace surge::score
