#include "score/postgres_source.hpp"

#include <charconv>

#include "score/score_error.hpp"

namespace surge::score {

namespace {

std::uint64_t count_of(const pg_result& result) {
  std::uint64_t n = 0;
  const char* text = PQgetvalue(result.get(), 0, 0);
  std::from_chars(text, text + PQgetlength(result.get(), 0, 0), n);
  return n;
}

}  // namespace

postgres_source::postgres_source(const std::string& conninfo, const std::string& relation, bool is_query,
                                 std::string key, std::vector<std::string> columns, bool count_rows)
    : connection_(conninfo), columns_(columns.size()), count_rows_(count_rows) {
  from_ = is_query ? "(" + relation + ") AS surge_source" : connection_.identifier(relation);
  description_ = (is_query ? "postgres query " : "postgres table ") + relation + " by " + key;
  key_sql_ = connection_.identifier(key);
  select_ = key_sql_;
  for (const auto& column : columns) select_ += ", " + connection_.identifier(column);
  auto shape = connection_.query("SELECT " + select_ + " FROM " + from_ + " LIMIT 0", {},
                                 is_query ? "--query with --key and --input columns" : "--table with --key and --input columns");
  const auto type = PQftype(shape.get(), 0);
  key_is_integer_ = type == 20 || type == 21 || type == 23;  // int8, int2, int4
}

void postgres_source::resume(const source_position& position) {
  position_ = position;
  start_rows_read_ = position.rows_read;
}

void postgres_source::open_cursor() {
  connection_.run("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", "starting the read transaction");
  std::string where = key_sql_ + " IS NOT NULL";
  if (position_.last_key) where += " AND " + key_sql_ + " > " + connection_.literal(*position_.last_key);
  if (count_rows_) {
    to_read_ = count_of(connection_.query("SELECT count(*) FROM " + from_ + " WHERE " + where, {}, "counting rows"));
  }
  rows_without_key_ = count_of(connection_.query(
      "SELECT count(*) FROM " + from_ + " WHERE " + key_sql_ + " IS NULL", {}, "counting rows without a key"));
  connection_.run("DECLARE surge_rows NO SCROLL CURSOR FOR SELECT " + select_ + " FROM " + from_ + " WHERE " + where +
                      " ORDER BY " + key_sql_,
                  "opening the cursor");
  open_ = true;
}

row_page postgres_source::next_page(std::size_t max_rows) {
  if (!open_) open_cursor();
  auto result = connection_.query("FETCH FORWARD " + std::to_string(max_rows) + " FROM surge_rows", {}, "reading rows");
  row_page page(columns_);
  const int rows = PQntuples(result.get());
  for (int r = 0; r < rows; ++r) {
    for (int c = 0; c <= static_cast<int>(columns_); ++c) {
      if (PQgetisnull(result.get(), r, c)) page.add_cell(std::nullopt);
      else page.add_cell(std::string_view(PQgetvalue(result.get(), r, c), PQgetlength(result.get(), r, c)));
    }
  }
  if (rows > 0) {
    position_.last_key = std::string(*page.key(page.rows() - 1));
    position_.rows_read += static_cast<std::uint64_t>(rows);
  }
  return page;
}

std::optional<double> postgres_source::done_fraction() const {
  if (!open_ || !count_rows_) return std::nullopt;
  if (to_read_ == 0) return 1.0;
  return static_cast<double>(position_.rows_read - start_rows_read_) / static_cast<double>(to_read_);
}

}  // namespace surge::score
