#pragma once

#include <CLI/CLI.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace surge::score {

struct score_arguments {
  std::string model_repository;
  std::string model;
  std::optional<std::int64_t> model_version;
  std::string backend_directory;
  std::string from_postgres;
  std::string table;
  std::string query;
  std::string from_csv;
  std::string key;
  std::vector<std::string> inputs;
  std::vector<std::string> outputs;
  std::string to_postgres;
  std::string to_table;
  std::string to_csv;
  std::string reject_table;
  std::string reject_file;
  std::string run_id{"default"};
  std::size_t page_rows{4096};
  std::size_t in_flight{4};
  std::string progress{"auto"};
};

CLI::App* add_score_command(CLI::App& app, score_arguments& arguments);
// Exit status: 0 done (rows may have been rejected), 1 the run failed part
// way (what was committed stays; rerun with the same run id), 2 the
// invocation is wrong (flags, mapping, model, source or output).
int run_score_command(const score_arguments& arguments);

}  // namespace surge::score
