#include "score/postgres_sink.hpp"

#include <charconv>

#include "score/output_values.hpp"
#include "score/score_error.hpp"

namespace surge::score {

namespace {

constexpr const char* ledger_table = "surge_score_ledger";

std::uint64_t number_at(const pg_result& result, int column) {
  std::uint64_t n = 0;
  const char* text = PQgetvalue(result.get(), 0, column);
  std::from_chars(text, text + PQgetlength(result.get(), 0, column), n);
  return n;
}

}  // namespace

postgres_sink::postgres_sink(const std::string& conninfo, std::string table, std::string reject_table, std::string key,
                             std::vector<output_binding> outputs)
    : connection_(conninfo),
      table_(std::move(table)),
      reject_table_(std::move(reject_table)),
      key_(std::move(key)),
      outputs_(std::move(outputs)) {}

std::optional<ledger_entry> postgres_sink::open(const std::string& run_id, const std::string& source,
                                                bool key_is_integer) {
  run_id_ = run_id;
  source_ = source;
  const auto table = connection_.identifier(table_);
  const auto rejects = connection_.identifier(reject_table_);
  const auto key = connection_.identifier(key_);
  const std::string key_type = key_is_integer ? "bigint" : "text";
  std::string columns;
  std::string staged_columns;
  std::string updates;
  for (const auto& output : outputs_) {
    const auto column = connection_.identifier(output.column);
    columns += ", " + column + " " + std::string(sql_type(output.type));
    staged_columns += ", " + column;
    updates += column + " = EXCLUDED." + column + ", ";
  }
  connection_.run(std::string("CREATE TABLE IF NOT EXISTS ") + ledger_table +
                      " (run_id text PRIMARY KEY, source text NOT NULL, last_key text, rows_read bigint NOT NULL,"
                      " rows_scored bigint NOT NULL, rows_rejected bigint NOT NULL, finished boolean NOT NULL,"
                      " updated_at timestamptz NOT NULL DEFAULT now())",
                  "creating surge_score_ledger");
  connection_.run("CREATE TABLE IF NOT EXISTS " + table + " (run_id text NOT NULL, " + key + " " + key_type +
                      " NOT NULL" + columns + ", scored_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (run_id, " +
                      key + "))",
                  "creating --to-table " + table_);
  connection_.run("CREATE TABLE IF NOT EXISTS " + rejects + " (run_id text NOT NULL, " + key +
                      " text NOT NULL, reason text NOT NULL, row_values text, rejected_at timestamptz NOT NULL DEFAULT "
                      "now(), PRIMARY KEY (run_id, " + key + "))",
                  "creating the reject table " + reject_table_);
  connection_.run("CREATE TEMPORARY TABLE surge_score_staging (" + key + " " + key_type + columns +
                      ") ON COMMIT DELETE ROWS",
                  "creating the staging table");
  connection_.run("CREATE TEMPORARY TABLE surge_score_reject_staging (" + key +
                      " text, reason text, row_values text) ON COMMIT DELETE ROWS",
                  "creating the staging table");
  const auto run = connection_.literal(run_id_);
  insert_scores_ = "INSERT INTO " + table + " (run_id, " + key + staged_columns + ") SELECT DISTINCT ON (" + key +
                   ") " + run + ", " + key + staged_columns + " FROM surge_score_staging ON CONFLICT (run_id, " + key +
                   ") DO UPDATE SET " + updates + "scored_at = now()";
  insert_rejects_ = "INSERT INTO " + rejects + " (run_id, " + key + ", reason, row_values) SELECT DISTINCT ON (" + key +
                    ") " + run + ", " + key + ", reason, row_values FROM surge_score_reject_staging ON CONFLICT (run_id, " +
                    key + ") DO UPDATE SET reason = EXCLUDED.reason, row_values = EXCLUDED.row_values, rejected_at = now()";

  auto found = connection_.query(std::string("SELECT source, last_key, rows_read, rows_scored, rows_rejected, finished "
                                             "FROM ") + ledger_table + " WHERE run_id = $1",
                                 {run_id_.c_str()}, "reading surge_score_ledger");
  if (PQntuples(found.get()) == 0) return std::nullopt;
  ledger_entry entry;
  entry.source = PQgetvalue(found.get(), 0, 0);
  if (!PQgetisnull(found.get(), 0, 1)) entry.position.last_key = PQgetvalue(found.get(), 0, 1);
  entry.position.rows_read = number_at(found, 2);
  entry.totals = {number_at(found, 2), number_at(found, 3), number_at(found, 4)};
  entry.finished = PQgetvalue(found.get(), 0, 5)[0] == 't';
  return entry;
}

void postgres_sink::write_ledger(const source_position& position, const run_totals& totals, bool finished) {
  const auto read = std::to_string(totals.rows_read);
  const auto scored = std::to_string(totals.rows_scored);
  const auto rejected = std::to_string(totals.rows_rejected);
  connection_.query(std::string("INSERT INTO ") + ledger_table +
                        " (run_id, source, last_key, rows_read, rows_scored, rows_rejected, finished, updated_at)"
                        " VALUES ($1, $2, $3, $4, $5, $6, $7, now()) ON CONFLICT (run_id) DO UPDATE SET"
                        " source = EXCLUDED.source, last_key = EXCLUDED.last_key, rows_read = EXCLUDED.rows_read,"
                        " rows_scored = EXCLUDED.rows_scored, rows_rejected = EXCLUDED.rows_rejected,"
                        " finished = EXCLUDED.finished, updated_at = now()",
                    {run_id_.c_str(), source_.c_str(), position.last_key ? position.last_key->c_str() : nullptr,
                     read.c_str(), scored.c_str(), rejected.c_str(), finished ? "true" : "false"},
                    "updating surge_score_ledger");
}

void postgres_sink::commit(const page_result& page, const run_totals& totals) {
  connection_.run("BEGIN", "starting a page's transaction");
  if (!page.keys.empty()) {
    copy_data_.clear();
    const auto width = outputs_.size();
    for (std::size_t r = 0; r < page.keys.size(); ++r) {
      append_copy_field(copy_data_, page.keys[r]);
      for (std::size_t c = 0; c < width; ++c) {
        copy_data_ += '\t';
        append_copy_field(copy_data_, page.values[r * width + c]);
      }
      copy_data_ += '\n';
    }
    connection_.copy_in("COPY surge_score_staging FROM STDIN", copy_data_, "writing scores to " + table_);
    connection_.run(insert_scores_, "writing scores to " + table_);
  }
  if (!page.rejects.empty()) {
    copy_data_.clear();
    for (const auto& reject : page.rejects) {
      append_copy_field(copy_data_, reject.key);
      copy_data_ += '\t';
      append_copy_field(copy_data_, reject.reason);
      copy_data_ += '\t';
      append_copy_field(copy_data_, reject.row_values);
      copy_data_ += '\n';
    }
    connection_.copy_in("COPY surge_score_reject_staging FROM STDIN", copy_data_, "writing rejects to " + reject_table_);
    connection_.run(insert_rejects_, "writing rejects to " + reject_table_);
  }
  write_ledger(page.position, totals, false);
  connection_.run("COMMIT", "committing a page");
}

void postgres_sink::finish(const source_position& position, const run_totals& totals) {
  write_ledger(position, totals, true);
}

}  // namespace surge::score
