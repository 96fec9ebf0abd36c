#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "score/column_mapping.hpp"
#include "score/in_process_model.hpp"
#include "score/page_result.hpp"
#include "score/row_source.hpp"
#include "score/score_sink.hpp"

namespace surge::score {

struct run_settings {
  std::string run_id{"default"};
  std::size_t page_rows{4096};
  std::size_t pages_in_flight{4};
  bool progress{false};
};

// What one invocation did (its own counts; the ledger holds the run's).
struct run_summary {
  std::string run_id;
  std::uint64_t rows_read{0};
  std::uint64_t rows_scored{0};
  std::uint64_t rows_rejected{0};
  std::uint64_t rows_without_key{0};
  std::optional<std::string> resumed_after_key;
  bool resumed{false};
  double seconds{0};
  run_totals totals;  // the run id's, over every invocation
};

// Reads the source page by page, scores each page's rows through the model
// (every request of up to `pages_in_flight` pages in flight at once, so the
// batcher sees a queue and memory is bounded by those pages), and commits
// the pages in order to the sink with the ledger. A request the model
// refuses for a full queue is sent again; one that fails otherwise rejects
// its rows with the model's message. Throws score_error when the source or
// the sink fails; what was committed stays.
run_summary run_scoring(row_source& source, score_sink& sink, in_process_model& model, const column_mapping& mapping,
                        const run_settings& settings);

// One line of JSON.
std::string summary_json(const run_summary& summary);

}  // namespace surge::score
