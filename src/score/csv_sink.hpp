#pragma once

#include <cstdio>
#include <string>
#include <vector>

#include "score/column_mapping.hpp"
#include "score/score_sink.hpp"

namespace surge::score {

// Scores into a CSV file (header `<key>,<output columns>`), rejects into
// another (`<key>,reason,row_values`), and the run's position into
// `<scores>.ledger` (JSON). A page is appended to both files and flushed to
// disk before the ledger is replaced (written beside, fsync'd, renamed);
// a rerun with the same run id first cuts both files back to the sizes the
// ledger recorded, so what a killed run wrote after its last commit is gone
// before the run continues. Another run id starts both files afresh.
class csv_sink final : public score_sink {
 public:
  csv_sink(std::string path, std::string reject_path, std::string key, std::vector<output_binding> outputs);
  ~csv_sink() override;

  std::optional<ledger_entry> open(const std::string& run_id, const std::string& source, bool key_is_integer) override;
  void commit(const page_result& page, const run_totals& totals) override;
  void finish(const source_position& position, const run_totals& totals) override;

 private:
  void write_ledger(const source_position& position, const run_totals& totals, bool finished);
  void append(std::FILE* file, const std::string& path, const std::string& text);

  std::string path_;
  std::string reject_path_;
  std::string ledger_path_;
  std::string key_;
  std::vector<output_binding> outputs_;
  std::string run_id_;
  std::string source_;
  std::FILE* scores_{nullptr};
  std::FILE* rejects_{nullptr};
  std::uint64_t scores_bytes_{0};
  std::uint64_t rejects_bytes_{0};
  std::string buffer_;
};

// `value` as one CSV field: quoted when it holds a comma, quote or line
// break (or is empty, so it reads back as "" rather than NULL).
void append_csv_field(std::string& out, std::string_view value);

}  // namespace surge::score
