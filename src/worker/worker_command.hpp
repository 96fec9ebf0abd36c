#pragma once

#include <CLI/CLI.hpp>
#include <string>

namespace surge::worker {

struct worker_arguments {
  std::string model_repository;
  std::string model;
  std::string redis_url;
  std::string name;  // empty: <host>-<pid>
  std::string backend_directory;
};

// `surge worker`: serve one model of a repository as a Redis Streams worker.
CLI::App* add_worker_command(CLI::App& app, worker_arguments& arguments);

// Exit status: 0 after SIGTERM/SIGINT, 2 for a bad argument or a model that
// does not load, 1 when the warm-up inference fails.
int run_worker_command(const worker_arguments& arguments);

}  // namespace surge::worker
