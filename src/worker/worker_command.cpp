#include "worker/worker_command.hpp"

#include <unistd.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <filesystem>
#include <iostream>

#include "backend_loader/backend_directory.hpp"
#include "metrics/registry.hpp"
#include "redis/url.hpp"
#include "worker/loaded_model.hpp"
#include "worker/stream_worker.hpp"

namespace surge::worker {

namespace asio = boost::asio;

namespace {

std::string default_name() {
  char host[64] = {};
  if (::gethostname(host, sizeof host - 1) != 0 || host[0] == '\0') return "worker-" + std::to_string(::getpid());
  return std::string(host) + "-" + std::to_string(::getpid());
}

}  // namespace

CLI::App* add_worker_command(CLI::App& app, worker_arguments& arguments) {
  auto* command = app.add_subcommand("worker", "Serve one model as a Redis Streams worker (docs/redis-streams.md)");
  command->add_option("--model-repository", arguments.model_repository, "Triton-layout model repository")
      ->required()
      ->envname("SURGE_MODEL_REPOSITORY");
  command->add_option("--model", arguments.model, "The model to serve (its directory name)")
      ->required()
      ->envname("SURGE_WORKER_MODEL");
  command->add_option("--redis", arguments.redis_url, "redis://host:port[/db] of the deployment")
      ->required()
      ->envname("SURGE_REDIS");
  command->add_option("--name", arguments.name, "Consumer name, unique among the model's workers (default: host-pid)")
      ->envname("SURGE_WORKER_NAME");
  command->add_option("--backend-directory", arguments.backend_directory,
                      "Where libsurge_backend_<name>.so live (default: backends/ beside the binary)")
      ->envname("SURGE_BACKEND_DIRECTORY");
  return command;
}

int run_worker_command(const worker_arguments& arguments) {
  auto endpoint = redis::parse_url(arguments.redis_url);
  if (auto* failure = std::get_if<error>(&endpoint)) {
    std::cerr << "surge worker: " << failure->message << std::endl;
    return 2;
  }
  const auto name = arguments.name.empty() ? default_name() : arguments.name;
  metrics::registry metrics;
  auto loaded = loaded_model::load(arguments.model_repository, arguments.model,
                                   backend_directory_or_default(arguments.backend_directory),
                                   metrics);
  if (auto* failure = std::get_if<error>(&loaded)) {
    std::cerr << "surge worker: " << failure->message << std::endl;
    return 2;
  }
  auto& model = *std::get<std::unique_ptr<loaded_model>>(loaded);
  if (!model.config().has_worker_pool()) {
    std::cerr << "surge worker: model " << arguments.model << " has no worker_pool section in its config" << std::endl;
    return 2;
  }

  // Before anything is read: a cold worker never takes an entry.
  if (auto failure = model.warm_up()) {
    std::cerr << "surge worker: " << name << ": " << failure->message << std::endl;
    return 1;
  }
  std::cout << "surge worker: " << name << " warm" << std::endl;

  asio::io_context io(1);
  auto worker = stream_worker::create(io.get_executor(), std::get<redis::endpoint>(endpoint), model,
                                      settings_from(model.config(), name));
  asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&worker](boost::system::error_code ec, int) {
    if (!ec) worker->stop();
  });
  asio::co_spawn(io, worker->run(), [&signals](std::exception_ptr failure) {
    signals.cancel();
    if (failure) {
      try {
        std::rethrow_exception(failure);
      } catch (const std::exception& e) {
        std::cerr << "surge worker: " << e.what() << std::endl;
      }
    }
  });
  io.run();
  model.stop();
  const auto& stats = worker->stats();
  std::cout << "surge worker: " << name << " stopped after " << stats.requests << " request(s) in " << stats.batches
            << " batch(es); " << stats.rejected << " rejected, " << stats.dead_lettered << " dead-lettered"
            << std::endl;
  return 0;
}

}  // namespace surge::worker
