#pragma once

#include <string>
#include <vector>

#include "score/column_mapping.hpp"
#include "score/postgres_connection.hpp"
#include "score/score_sink.hpp"

namespace surge::score {

// Scores into a PostgreSQL table (created when missing):
//   (run_id text, <key> bigint|text, <output columns>, scored_at timestamptz,
//    PRIMARY KEY (run_id, <key>))
// rejects into another (run_id, <key> text, reason, row_values, rejected_at),
// and the run's position into surge_score_ledger, all in one transaction per
// page: COPY into a temporary staging table, then INSERT ... ON CONFLICT
// (run_id, <key>) DO UPDATE.
class postgres_sink final : public score_sink {
 public:
  postgres_sink(const std::string& conninfo, std::string table, std::string reject_table, std::string key,
                std::vector<output_binding> outputs);

  std::optional<ledger_entry> open(const std::string& run_id, const std::string& source, bool key_is_integer) override;
  void commit(const page_result& page, const run_totals& totals) override;
  void finish(const source_position& position, const run_totals& totals) override;

 private:
  void write_ledger(const source_position& position, const run_totals& totals, bool finished);

  postgres_connection connection_;
  std::string table_;
  std::string reject_table_;
  std::string key_;
  std::vector<output_binding> outputs_;
  std::string run_id_;
  std::string source_;
  std::string insert_scores_;
  std::string insert_rejects_;
  std::string copy_data_;  // reused between pages
};

}  // namespace surge::score
