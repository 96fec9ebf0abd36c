#pragma once

#include <libpq-fe.h>

#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace surge::score {

// A result that frees itself.
using pg_result = std::unique_ptr<PGresult, decltype(&PQclear)>;

// One libpq connection, blocking (surge score is a batch job on its own
// threads; nothing here runs on a server's I/O thread). Every failure throws
// score_error with PostgreSQL's own message and what was being done.
class postgres_connection {
 public:
  explicit postgres_connection(const std::string& conninfo);
  ~postgres_connection();
  postgres_connection(const postgres_connection&) = delete;
  postgres_connection& operator=(const postgres_connection&) = delete;

  // A statement without rows; `what` prefixes the error.
  void run(const std::string& sql, std::string_view what);
  // A statement with text parameters (nullptr: NULL) that returns rows.
  pg_result query(const std::string& sql, const std::vector<const char*>& parameters, std::string_view what);
  // COPY ... FROM STDIN with `data` in COPY's text format.
  void copy_in(const std::string& copy_sql, std::string_view data, std::string_view what);

  // "name" with quotes doubled; "schema"."table" for a dotted name.
  std::string identifier(std::string_view name) const;
  std::string literal(std::string_view value) const;

 private:
  [[noreturn]] void fail(std::string_view what, const PGresult* result) const;
  PGconn* connection_;
};

// Appends `value` to COPY text-format data, escaping what that format needs.
void append_copy_field(std::string& data, std::string_view value);

}  // namespace surge::score
