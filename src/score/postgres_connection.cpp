#include "score/postgres_connection.hpp"

#include "score/score_error.hpp"

namespace surge::score {

postgres_connection::postgres_connection(const std::string& conninfo) : connection_(PQconnectdb(conninfo.c_str())) {
  if (connection_ == nullptr) throw score_error("PostgreSQL: out of memory connecting");
  if (PQstatus(connection_) != CONNECTION_OK) {
    std::string message = PQerrorMessage(connection_);
    PQfinish(connection_);
    while (!message.empty() && message.back() == '\n') message.pop_back();
    throw score_error("PostgreSQL: cannot connect: " + message);
  }
  // Keep libpq's NOTICEs (CREATE TABLE IF NOT EXISTS, ...) off stderr.
  PQsetNoticeProcessor(connection_, [](void*, const char*) {}, nullptr);
}

postgres_connection::~postgres_connection() { PQfinish(connection_); }

void postgres_connection::fail(std::string_view what, const PGresult* result) const {
  std::string message = result ? PQresultErrorMessage(result) : "";
  if (message.empty()) message = PQerrorMessage(connection_);
  while (!message.empty() && (message.back() == '\n' || message.back() == ' ')) message.pop_back();
  throw score_error("PostgreSQL: " + std::string(what) + ": " + message);
}

void postgres_connection::run(const std::string& sql, std::string_view what) {
  pg_result result(PQexec(connection_, sql.c_str()), &PQclear);
  const auto status = PQresultStatus(result.get());
  if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) fail(what, result.get());
}

pg_result postgres_connection::query(const std::string& sql, const std::vector<const char*>& parameters,
                                     std::string_view what) {
  pg_result result(PQexecParams(connection_, sql.c_str(), static_cast<int>(parameters.size()), nullptr,
                                parameters.data(), nullptr, nullptr, 0),
                   &PQclear);
  const auto status = PQresultStatus(result.get());
  if (status != PGRES_TUPLES_OK && status != PGRES_COMMAND_OK) fail(what, result.get());
  return result;
}

void postgres_connection::copy_in(const std::string& copy_sql, std::string_view data, std::string_view what) {
  {
    pg_result started(PQexec(connection_, copy_sql.c_str()), &PQclear);
    if (PQresultStatus(started.get()) != PGRES_COPY_IN) fail(what, started.get());
  }
  constexpr std::size_t chunk = 1 << 20;
  for (std::size_t at = 0; at < data.size(); at += chunk) {
    const auto piece = data.substr(at, chunk);
    if (PQputCopyData(connection_, piece.data(), static_cast<int>(piece.size())) != 1) fail(what, nullptr);
  }
  if (PQputCopyEnd(connection_, nullptr) != 1) fail(what, nullptr);
  pg_result finished(PQgetResult(connection_), &PQclear);
  if (PQresultStatus(finished.get()) != PGRES_COMMAND_OK) fail(what, finished.get());
  while (PGresult* extra = PQgetResult(connection_)) PQclear(extra);
}

std::string postgres_connection::identifier(std::string_view name) const {
  std::string quoted;
  std::size_t begin = 0;
  while (true) {
    const auto dot = name.find('.', begin);
    const auto part = name.substr(begin, dot == std::string_view::npos ? std::string_view::npos : dot - begin);
    char* escaped = PQescapeIdentifier(connection_, part.data(), part.size());
    if (escaped == nullptr) fail("quoting identifier", nullptr);
    if (!quoted.empty()) quoted += '.';
    quoted += escaped;
    PQfreemem(escaped);
    if (dot == std::string_view::npos) break;
    begin = dot + 1;
  }
  return quoted;
}

std::string postgres_connection::literal(std::string_view value) const {
  char* escaped = PQescapeLiteral(connection_, value.data(), value.size());
  if (escaped == nullptr) fail("quoting a value", nullptr);
  std::string quoted = escaped;
  PQfreemem(escaped);
  return quoted;
}

void append_copy_field(std::string& data, std::string_view value) {
  for (const char c : value) {
    switch (c) {
      case '\\': data += "\\\\"; break;
      case '\t': data += "\\t"; break;
      case '\n': data += "\\n"; break;
      case '\r': data += "\\r"; break;
      default: data += c;
    }
  }
}

}  // namespace surge::score
