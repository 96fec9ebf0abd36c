#pragma once

#include <optional>
#include <string>

#include "score/page_result.hpp"

namespace surge::score {

// Where scores, rejects and the run's ledger are written. A page's scores,
// its rejects and the ledger's new position are committed together or not
// at all, so a run killed at any point continues, with the same run id,
// after the last page committed: no row is lost and none is written twice.
// Writes are upserts on (run id, key) besides. Failures throw score_error.
class score_sink {
 public:
  virtual ~score_sink() = default;

  // Creates what is missing (tables, files) and returns the ledger entry
  // of `run_id` if it committed before.
  virtual std::optional<ledger_entry> open(const std::string& run_id, const std::string& source,
                                           bool key_is_integer) = 0;
  // One page, in page order, with the run's totals after it.
  virtual void commit(const page_result& page, const run_totals& totals) = 0;
  // The run read its source to the end.
  virtual void finish(const source_position& position, const run_totals& totals) = 0;
};

}  // namespace surge::score
