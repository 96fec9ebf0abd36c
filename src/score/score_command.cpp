#include "score/score_command.hpp"

#include <unistd.h>

#include <filesystem>
#include <iostream>

#include "backend_loader/backend_directory.hpp"
#include "score/column_mapping.hpp"
#include "score/csv_sink.hpp"
#include "score/csv_source.hpp"
#include "score/in_process_model.hpp"
#include "score/postgres_sink.hpp"
#include "score/postgres_source.hpp"
#include "score/score_error.hpp"
#include "score/score_runner.hpp"

namespace surge::score {

namespace {

// Which source and output the flags name, or why they do not.
std::optional<std::string> check_flags(const score_arguments& a) {
  const int sources = !a.from_postgres.empty() + !a.from_csv.empty();
  if (sources != 1) return "give one source: --from-postgres CONNINFO (with --table or --query) or --from-csv FILE";
  if (!a.from_postgres.empty() && a.table.empty() == a.query.empty()) {
    return "--from-postgres needs one of --table TABLE and --query SQL";
  }
  if (a.from_postgres.empty() && (!a.table.empty() || !a.query.empty())) return "--table and --query read from --from-postgres";
  const int outputs = !a.to_table.empty() + !a.to_csv.empty();
  if (outputs != 1) return "give one output: --to-table TABLE (PostgreSQL) or --to-csv FILE";
  if (!a.to_table.empty() && a.to_postgres.empty() && a.from_postgres.empty()) {
    return "--to-table needs --to-postgres CONNINFO (or a --from-postgres source to write beside)";
  }
  if (!a.to_csv.empty() && (!a.reject_table.empty() || !a.to_postgres.empty())) {
    return "--reject-table and --to-postgres go with --to-table, not --to-csv";
  }
  if (!a.to_table.empty() && !a.reject_file.empty()) return "--reject-file goes with --to-csv; --to-table rejects go to --reject-table";
  if (a.page_rows == 0) return "--page-rows must be at least 1";
  if (a.in_flight == 0) return "--in-flight must be at least 1";
  if (a.progress != "auto" && a.progress != "on" && a.progress != "off") return "--progress is auto, on or off";
  if (a.run_id.empty()) return "--run-id is empty";
  return std::nullopt;
}

}  // namespace

CLI::App* add_score_command(CLI::App& app, score_arguments& a) {
  auto* command = app.add_subcommand(
      "score", "Score a table or file through a model and write the scores back (docs/score.md)");
  command->add_option("--model-repository", a.model_repository, "Triton-layout model repository")
      ->required()
      ->envname("SURGE_MODEL_REPOSITORY");
  command->add_option("--model", a.model, "The model to score with (its directory name)")->required();
  command->add_option("--model-version", a.model_version, "A version of it (default: the highest served)");
  command->add_option("--backend-directory", a.backend_directory,
                      "Where libsurge_backend_<name>.so live (default: backends/ beside the binary)")
      ->envname("SURGE_BACKEND_DIRECTORY");
  command->add_option("--from-postgres", a.from_postgres, "libpq connection string of the source database");
  command->add_option("--table", a.table, "Source table (with --from-postgres)");
  command->add_option("--query", a.query, "Source SELECT (with --from-postgres); read in --key order");
  command->add_option("--from-csv", a.from_csv, "Source CSV file with a header line");
  command->add_option("--key", a.key, "Key column: unique; the order rows are read and resumed in")->required();
  command->add_option("--input", a.inputs, "INPUT=COLUMN[,COLUMN...]: a model input from these columns (repeat)")
      ->required();
  command->add_option("--output", a.outputs, "COLUMN=OUTPUT[:INDEX]: an output column from a model output (repeat)")
      ->required();
  command->add_option("--to-postgres", a.to_postgres, "Database of --to-table (default: the --from-postgres one)");
  command->add_option("--to-table", a.to_table, "Output table, created when missing");
  command->add_option("--to-csv", a.to_csv, "Output CSV file");
  command->add_option("--reject-table", a.reject_table, "Rejected rows (default: <to-table>_rejects)");
  command->add_option("--reject-file", a.reject_file, "Rejected rows (default: <to-csv>.rejects.csv)");
  command->add_option("--run-id", a.run_id, "Names the run: a rerun with it continues after its last committed row");
  command->add_option("--page-rows", a.page_rows, "Rows read, scored and committed together");
  command->add_option("--in-flight", a.in_flight, "Pages being scored at once");
  command->add_option("--progress", a.progress, "auto (a line on stderr when it is a terminal), on, off");
  return command;
}

int run_score_command(const score_arguments& a) {
  if (auto failure = check_flags(a)) {
    std::cerr << "surge score: " << *failure << std::endl;
    return 2;
  }
  auto loaded = in_process_model::load(a.model_repository, a.model, a.model_version,
                                       backend_directory_or_default(a.backend_directory));
  if (auto* failure = std::get_if<error>(&loaded)) {
    std::cerr << "surge score: " << failure->message << std::endl;
    return 2;
  }
  auto& model = *std::get<std::unique_ptr<in_process_model>>(loaded);
  auto mapped = make_column_mapping(model.config(), a.key, a.inputs, a.outputs);
  if (auto* failure = std::get_if<error>(&mapped)) {
    std::cerr << "surge score: " << failure->message << std::endl;
    return 2;
  }
  const auto& mapping = std::get<column_mapping>(mapped);

  run_settings settings;
  settings.run_id = a.run_id;
  settings.page_rows = a.page_rows;
  settings.pages_in_flight = a.in_flight;
  settings.progress = a.progress == "on" || (a.progress == "auto" && ::isatty(STDERR_FILENO));
  std::unique_ptr<row_source> source;
  std::unique_ptr<score_sink> sink;
  try {
    if (!a.from_csv.empty()) {
      source = std::make_unique<csv_source>(a.from_csv, a.key, mapping.source_columns);
    } else {
      const bool is_query = !a.query.empty();
      source = std::make_unique<postgres_source>(a.from_postgres, is_query ? a.query : a.table, is_query, a.key,
                                                 mapping.source_columns, settings.progress);
    }
    if (!a.to_csv.empty()) {
      sink = std::make_unique<csv_sink>(a.to_csv, a.reject_file.empty() ? a.to_csv + ".rejects.csv" : a.reject_file,
                                        a.key, mapping.outputs);
    } else {
      sink = std::make_unique<postgres_sink>(a.to_postgres.empty() ? a.from_postgres : a.to_postgres, a.to_table,
                                             a.reject_table.empty() ? a.to_table + "_rejects" : a.reject_table, a.key,
                                             mapping.outputs);
    }
  } catch (const score_error& e) {
    std::cerr << "surge score: " << e.what() << std::endl;
    return 2;
  }

  try {
    const auto summary = run_scoring(*source, *sink, model, mapping, settings);
    if (summary.rows_without_key > 0) {
      std::cerr << "surge score: " << summary.rows_without_key << " row(s) with a NULL " << a.key
                << " were not read (no key to record them by)" << std::endl;
    }
    if (::isatty(STDOUT_FILENO)) {
      std::cout << "surge score: run " << summary.run_id << ": " << summary.rows_scored << " row(s) scored, "
                << summary.rows_rejected << " rejected, in " << summary.seconds << " s" << std::endl;
    } else {
      std::cout << summary_json(summary) << std::endl;
    }
  } catch (const score_error& e) {
    std::cerr << "surge score: " << e.what() << " (what was committed stays; rerun with --run-id " << a.run_id
              << " to continue)" << std::endl;
    return 1;
  }
  return 0;
}

}  // namespace surge::score
