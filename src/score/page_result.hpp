#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "score/page_encoder.hpp"
#include "score/row_page.hpp"

namespace surge::score {

// What one page came to, in page order: the scored rows' keys and their
// output columns as text (row-major, one value per output binding), the
// rejected rows, and where the source stands after the page.
struct page_result {
  std::vector<std::string> keys;
  std::vector<std::string> values;
  std::vector<rejected_row> rejects;
  source_position position;
};

// Counts of one run id, summed over every invocation that worked on it.
struct run_totals {
  std::uint64_t rows_read{0};
  std::uint64_t rows_scored{0};
  std::uint64_t rows_rejected{0};
};

// What the ledger holds for a run id that has committed before.
struct ledger_entry {
  std::string source;  // which source the run read (a run id never changes source)
  source_position position;
  run_totals totals;
  bool finished{false};
};

}  // namespace surge::score
