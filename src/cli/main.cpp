// surge: one binary, subcommands. `surge serve` runs the server; `surge bench`
// loads one with requests and reports throughput and latency; `surge worker`
// serves one model as a Redis Streams worker; `surge score` scores a table or
// file through a model and writes the scores back.
#include <CLI/CLI.hpp>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <future>
#include <iostream>
#include <thread>

#include "backend_loader/backend_directory.hpp"
#include "bench/bench_command.hpp"
#include "core/heap_release.hpp"
#include "ensemble/ensemble_loader.hpp"
#include "features/features_loader.hpp"
#include "frontends/auth_keys.hpp"
#include "frontends/grpc/grpc_server.hpp"
#include "frontends/http/auth_handler.hpp"
#include "frontends/http/descriptor_budget.hpp"
#include "frontends/http/http_server.hpp"
#include "frontends/http/kserve_handler.hpp"
#include "shared_memory/system_shared_memory.hpp"
#include "frontends/http/metrics_handler.hpp"
#include "frontends/http/prefix_router.hpp"
#include "frontends/images/images_handler.hpp"
#include "frontends/openai/openai_codec.hpp"
#include "frontends/openai/openai_handler.hpp"
#include "frontends/tls/tls_credentials.hpp"
#include "frontends/tls/tls_reloader.hpp"
#include "metrics/registry.hpp"
#include "pool/remote_models.hpp"
#include "redis/url.hpp"
#include "router/loaders/generation_loader.hpp"
#include "router/loaders/open_backend.hpp"
#include "router/loaders/remote_loader.hpp"
#include "router/loaders/tensor_loader.hpp"
#include "router/model_registry.hpp"
#include "router/repository_poller.hpp"
#include "score/score_command.hpp"
#include "worker/worker_command.hpp"

namespace asio = boost::asio;

namespace {

constexpr const char* surge_version = "0.1.0";

struct serve_options {
  std::string model_repository;
  std::string host{"127.0.0.1"};
  std::uint16_t http_port{8000};
  std::uint16_t metrics_port{8002};
  std::uint16_t grpc_port{8001};
  std::size_t grpc_max_message_mib{64};
  unsigned threads{std::max(1u, std::thread::hardware_concurrency())};
  bool strict{false};
  // none: the repository is loaded once at start; explicit: only
  // --load-model at start ("*": all), then load and unload on request.
  std::string model_control_mode{"none"};
  std::vector<std::string> load_models;
  unsigned repository_poll_secs{15};  // poll mode
  std::string backend_directory;
  std::size_t max_body_mib{64};
  unsigned idle_timeout_seconds{60};
  std::size_t max_connections{10000};            // HTTP (inference port), lowered to fit the descriptor limit
  std::size_t max_connections_per_client{4096};  // 0: no per-address limit
  std::size_t metrics_max_connections{64};       // the metrics port's own, apart from the inference port's
  unsigned drain_timeout_seconds{30};
  unsigned heap_release_ms{5000};  // 0: freed heap memory is kept by the allocator
  std::string redis_url;  // empty: worker-pool models need local_workers
  std::string api_key_file;  // empty: keys only from SURGE_API_KEYS, if set
  surge::tls::tls_files tls;  // no certificate: plain HTTP and gRPC
  // POST /v1/images/preprocess: its downloads (--fetch-*) and CPU pool.
  std::vector<std::string> fetch_allow;  // ADDRESS:PORT connected to although private or local
  std::size_t fetch_max_concurrency{64};
  std::size_t fetch_max_per_host{8};
  unsigned fetch_timeout_ms{30000};
  std::size_t fetch_max_body_mib{20};
  unsigned image_threads{0};  // 0: one per hardware thread
};

// The images endpoint's options from the --fetch-* and --image-* flags, or
// the message naming the bad --fetch-allow entry.
std::variant<surge::images::images_options, std::string> images_options_of(const serve_options& options) {
  surge::images::images_options images;
  for (const auto& entry : options.fetch_allow) {
    auto parsed = surge::fetch::parse_allowed_endpoint(entry);
    if (auto* failure = std::get_if<std::string>(&parsed)) return "--fetch-allow: " + *failure;
    images.fetch.allowed.push_back(std::get<surge::fetch::allowed_endpoint>(parsed));
  }
  images.fetch.max_concurrency = options.fetch_max_concurrency;
  images.fetch.max_per_host = options.fetch_max_per_host;
  images.fetch.total_timeout = std::chrono::milliseconds(options.fetch_timeout_ms);
  images.fetch.connect_timeout = std::min(images.fetch.connect_timeout, images.fetch.total_timeout);
  images.fetch.max_body_bytes = std::uint64_t{options.fetch_max_body_mib} << 20;
  images.cpu_threads = options.image_threads;
  return images;
}

// The API keys of --api-key-file and of SURGE_API_KEYS ("k1,metrics k2");
// none: every endpoint is open.
std::variant<surge::auth::api_keys, surge::error> load_api_keys(const serve_options& options) {
  surge::auth::api_keys keys;
  if (!options.api_key_file.empty()) {
    auto loaded = surge::auth::api_keys::load_file(options.api_key_file);
    if (auto* failure = std::get_if<surge::error>(&loaded)) return std::move(*failure);
    keys.merge(std::get<surge::auth::api_keys>(loaded));
  }
  if (const char* text = std::getenv("SURGE_API_KEYS"); text && *text) {
    auto parsed = surge::auth::api_keys::parse(text, "SURGE_API_KEYS", ",\n");
    if (auto* failure = std::get_if<surge::error>(&parsed)) return std::move(*failure);
    keys.merge(std::get<surge::auth::api_keys>(parsed));
  }
  return keys;
}

int serve(const serve_options& options) {
  // Before anything opens a descriptor: the HTTP limits are sized from it.
  const auto descriptor_limit = surge::http::raise_descriptor_limit();
  const auto descriptors =
      surge::http::plan_descriptors(descriptor_limit, options.max_connections, options.metrics_max_connections);
  if (descriptors.clamped) {
    std::cerr << "surge: connection limits lowered to " << descriptors.http_connections << " (HTTP) and "
              << descriptors.metrics_connections << " (metrics) to keep " << descriptors.reserved << " of "
              << descriptor_limit << " file descriptors for gRPC and models" << std::endl;
  }
  auto loaded_keys = load_api_keys(options);
  if (auto* failure = std::get_if<surge::error>(&loaded_keys)) {
    std::cerr << "surge: --api-key-file: " << failure->message << std::endl;
    return 2;
  }
  const auto api_keys = std::get<surge::auth::api_keys>(std::move(loaded_keys));
  // One context per protocol (ALPN differs), from the same files.
  std::unique_ptr<surge::tls::tls_credentials> http_tls;
  std::unique_ptr<surge::tls::tls_credentials> grpc_tls;
  if (auto failure = surge::tls::check_flags(options.tls)) {
    std::cerr << "surge: " << failure->message << std::endl;
    return 2;
  }
  if (options.tls.enabled()) {
    for (auto [credentials, alpn] : {std::pair{&http_tls, "http/1.1"}, std::pair{&grpc_tls, "h2"}}) {
      auto loaded = surge::tls::tls_credentials::load(options.tls, alpn);
      if (auto* failure = std::get_if<surge::error>(&loaded)) {
        std::cerr << "surge: " << failure->message << std::endl;
        return 2;
      }
      *credentials = std::get<std::unique_ptr<surge::tls::tls_credentials>>(std::move(loaded));
    }
  }
  auto images_options = images_options_of(options);
  if (auto* failure = std::get_if<std::string>(&images_options)) {
    std::cerr << "surge: " << *failure << std::endl;
    return 2;
  }
  asio::io_context io(static_cast<int>(options.threads));
  auto work = asio::make_work_guard(io);
  surge::metrics::registry metrics;
  const auto backend_directory = surge::backend_directory_or_default(options.backend_directory);
  surge::model_registry::options registry_options;
  registry_options.make_completion = [backend_directory] { return surge::backend_autocompletion(backend_directory); };
  surge::model_registry models(io.get_executor(), metrics, registry_options);
  std::error_code exe_ec;
  surge::pool::remote_models remote(
      io.get_executor(), metrics,
      {options.redis_url, options.model_repository, backend_directory,
       std::filesystem::read_symlink("/proc/self/exe", exe_ec), {}});
  if (auto failure = remote.configure()) {
    std::cerr << "surge: --redis: " << failure->message << std::endl;
    return 2;
  }
  // The kinds of model served, asked in this order: specific ones first.
  models.add_loader("ensemble",
                    std::make_unique<surge::ensemble::ensemble_loader>([&models] { return models.snapshot(); }));
  std::optional<surge::redis::endpoint> redis_endpoint;
  if (!options.redis_url.empty()) {
    auto parsed = surge::redis::parse_url(options.redis_url);
    if (auto* endpoint = std::get_if<surge::redis::endpoint>(&parsed)) redis_endpoint = *endpoint;
  }
  models.add_loader("features", std::make_unique<surge::features::features_loader>(
                                    redis_endpoint, [&models] { return models.snapshot(); }));
  models.add_loader("remote", std::make_unique<surge::remote_model_loader>(remote.instance_factory()));
  models.add_loader("generation", std::make_unique<surge::generation_model_loader>(backend_directory));
  models.add_loader("tensor", std::make_unique<surge::tensor_model_loader>(backend_directory));

  std::vector<std::thread> io_threads;
  for (unsigned i = 0; i < options.threads; ++i) io_threads.emplace_back([&io] { io.run(); });
  const auto stop_io = [&] {
    io.stop();
    for (auto& t : io_threads) t.join();
  };

  // Every model loads (on this thread, not an I/O thread) before the
  // server listens.
  std::vector<std::string> failures;
  try {
    const bool load_all = options.model_control_mode != "explicit" ||
                          std::find(options.load_models.begin(), options.load_models.end(), "*") !=
                              options.load_models.end();
    if (load_all) {
      failures = models.load_repository(options.model_repository);
    } else {
      if (!std::filesystem::is_directory(options.model_repository)) {
        throw std::runtime_error("model repository " + options.model_repository + " is not a directory");
      }
      for (const auto& name : options.load_models) {
        std::promise<std::optional<surge::error>> loaded;
        models.load_model_async(options.model_repository, name, std::nullopt,
                                [&loaded](std::optional<surge::error> outcome) { loaded.set_value(outcome); });
        if (auto failure = loaded.get_future().get()) failures.push_back(name + ": " + failure->message);
      }
    }
  } catch (const std::exception& e) {
    std::cerr << "surge: " << e.what() << std::endl;
    remote.stop();
    stop_io();
    return 2;
  }
  for (const auto& failure : failures) std::cerr << "surge: model " << failure << std::endl;
  if (options.strict && !failures.empty()) {
    std::cerr << "surge: --strict: " << failures.size() << " model(s) failed to load" << std::endl;
    remote.stop();
    models.stop_all();
    stop_io();
    return 1;
  }
  remote.start([&models] { return models.snapshot(); });

  surge::http::server_limits limits;
  limits.body_limit_bytes = options.max_body_mib * 1024 * 1024;
  limits.idle_timeout = std::chrono::seconds(options.idle_timeout_seconds);
  limits.connections.max_connections = descriptors.http_connections;
  limits.connections.max_connections_per_client = options.max_connections_per_client;
  auto metrics_limits = limits;
  metrics_limits.connections.max_connections = descriptors.metrics_connections;
  metrics_limits.connections.max_connections_per_client = 0;
  surge::system_shared_memory shared_memory;
  surge::http::kserve_handler kserve(models, shared_memory);
  if (options.model_control_mode == "explicit") {
    kserve.enable_repository_control({models, options.model_repository});
  }
  surge::openai::openai_handler openai(models);
  using surge::auth::endpoint_group;
  surge::http::auth_handler guarded_kserve(kserve, api_keys, surge::auth::group_of_http_target);
  surge::http::auth_handler guarded_openai(
      openai, api_keys, [](std::string_view) { return std::optional(endpoint_group::inference); },
      [](std::string_view message) {
        return surge::openai::error_json(message, "invalid_request_error", "", "invalid_api_key");
      });
  surge::images::images_handler images(std::get<surge::images::images_options>(std::move(images_options)));
  surge::http::auth_handler guarded_images(images, api_keys,
                                           [](std::string_view) { return std::optional(endpoint_group::inference); });
  surge::http::prefix_router routes(guarded_kserve);
  routes.add("/v1/images/", guarded_images);  // first: the router takes the first prefix that matches
  routes.add("/v1/", guarded_openai);
  surge::http::metrics_handler metrics_endpoint(metrics);
  surge::http::auth_handler guarded_metrics(metrics_endpoint, api_keys,
                                            [](std::string_view) { return std::optional(endpoint_group::metrics); });
  surge::http::http_server http(io, routes, limits);
  surge::http::http_server metrics_http(io, guarded_metrics, metrics_limits);
  surge::grpc_frontend::grpc_limits grpc_limits;
  grpc_limits.max_message_bytes = options.grpc_max_message_mib * 1024 * 1024;
  grpc_limits.max_connection_idle = std::chrono::seconds(options.idle_timeout_seconds);
  surge::grpc_frontend::grpc_server grpc(io, models, grpc_limits, api_keys, shared_memory);
  if (options.model_control_mode == "explicit") grpc.enable_repository_control(models, options.model_repository);
  surge::tls::tls_reloader tls_reloader(io, metrics);
  if (http_tls) {
    http.use_tls(*http_tls);
    grpc.use_tls(*grpc_tls);
    tls_reloader.add("inference", *http_tls);
    tls_reloader.add("grpc", *grpc_tls);
  }
  // Connection counts are read where they live, when /metrics is rendered.
  const auto connection_samples = [&](surge::metrics::sample_list& samples, auto value) {
    samples.push_back({{{"listener", "inference"}}, static_cast<double>(value(http.connections()))});
    samples.push_back({{{"listener", "metrics"}}, static_cast<double>(value(metrics_http.connections()))});
  };
  const auto open_connections = metrics.add_gauge_collector(
      "surge_http_connections", "Open HTTP connections", [&](surge::metrics::sample_list& samples) {
        connection_samples(samples, [](const auto& limiter) { return limiter.open_connections(); });
      });
  const auto evicted_connections = metrics.add_gauge_collector(
      "surge_http_connections_evicted", "Idle HTTP connections closed to make room at the connection limit",
      [&](surge::metrics::sample_list& samples) {
        connection_samples(samples, [](const auto& limiter) { return limiter.evictions(); });
      });
  // After a burst, what it freed goes back to the kernel (docs/batching.md, Admission).
  std::unique_ptr<surge::heap_release> heap_release;
  if (options.heap_release_ms > 0) {
    heap_release = std::make_unique<surge::heap_release>(
        surge::heap_release::options{std::chrono::milliseconds(options.heap_release_ms)});
  }
  const auto heap_free = metrics.add_gauge_collector(
      "surge_heap_free_bytes", "Heap memory the allocator holds free (not yet returned to the kernel)",
      [](surge::metrics::sample_list& samples) {
        samples.push_back({{}, static_cast<double>(surge::heap_release::free_heap_bytes())});
      });
  std::uint16_t http_port = 0;
  std::uint16_t metrics_port = 0;
  std::uint16_t grpc_port = 0;
  try {
    http_port = http.listen(options.host, options.http_port);
    metrics_port = metrics_http.listen(options.host, options.metrics_port);
    grpc_port = grpc.start(options.host, options.grpc_port);
  } catch (const std::exception& e) {
    std::cerr << "surge: cannot listen: " << e.what() << std::endl;
    remote.stop();
    models.stop_all();
    stop_io();
    return 2;
  }
  http.start();
  metrics_http.start();
  if (http_tls) tls_reloader.start();  // SIGHUP reloads the TLS files; without TLS it keeps its default
  std::cout << "surge: http listening on " << options.host << ":" << http_port << "\n"
            << "surge: metrics listening on " << options.host << ":" << metrics_port << "\n"
            << "surge: grpc listening on " << options.host << ":" << grpc_port << std::endl;
  if (http_tls) {
    std::cout << "surge: TLS on the http and grpc ports"
              << (options.tls.client_ca_file.empty() ? "" : ", client certificates required") << std::endl;
  }
  kserve.set_ready(true);
  grpc.set_ready(true);
  std::unique_ptr<surge::repository_poller> poller;
  if (options.model_control_mode == "poll") {
    poller = std::make_unique<surge::repository_poller>(models, options.model_repository,
                                                        std::chrono::seconds(options.repository_poll_secs));
    poller->start();
  }
  std::cout << "surge: ready" << std::endl;

  // SIGINT/SIGTERM: stop accepting, let requests in flight finish, then stop.
  std::promise<void> drained;
  asio::signal_set signals(io, SIGINT, SIGTERM);
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        using namespace asio::experimental::awaitable_operators;
        auto [ec, signal] = co_await signals.async_wait(asio::as_tuple(asio::use_awaitable));
        std::cout << "surge: signal " << signal << ", draining" << std::endl;
        kserve.set_ready(false);
        grpc.set_ready(false);
        http.stop_accepting();
        grpc.stop_admitting();
        asio::steady_timer limit(io, std::chrono::seconds(options.drain_timeout_seconds));
        co_await ((http.wait_drained() && grpc.wait_drained()) || limit.async_wait(asio::use_awaitable));
        drained.set_value();
      },
      asio::detached);
  drained.get_future().wait();

  poller.reset();  // no load or unload from here on
  tls_reloader.stop();
  remote.stop();
  // gRPC's shutdown cancels the calls the drain left (open streams, requests
  // past the drain timeout) and returns once each has finished; the models
  // answer what is still queued meanwhile.
  std::thread grpc_stopper([&grpc] { grpc.shutdown(); });
  models.stop_all();
  grpc_stopper.join();
  metrics_http.stop_accepting();
  work.reset();
  stop_io();
  std::cout << "surge: stopped" << std::endl;
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"surge: an inference server for asynchronous, event-driven AI workloads"};
  app.set_version_flag("--version", std::string("surge ") + surge_version);
  app.require_subcommand(1);

  serve_options options;
  auto* serve_command = app.add_subcommand("serve", "Serve the models of a model repository");
  serve_command->add_option("--model-repository", options.model_repository, "Triton-layout model repository")
      ->required()
      ->envname("SURGE_MODEL_REPOSITORY");
  serve_command->add_option("--host", options.host, "Address to listen on")->envname("SURGE_HOST")->capture_default_str();
  serve_command->add_option("--http-port", options.http_port, "KServe v2 HTTP port (0: pick a free one)")
      ->envname("SURGE_HTTP_PORT")
      ->capture_default_str();
  serve_command->add_option("--metrics-port", options.metrics_port, "Prometheus /metrics port (0: pick a free one)")
      ->envname("SURGE_METRICS_PORT")
      ->capture_default_str();
  serve_command->add_option("--grpc-port", options.grpc_port, "KServe v2 gRPC port (0: pick a free one)")
      ->envname("SURGE_GRPC_PORT")
      ->capture_default_str();
  serve_command->add_option("--grpc-max-message-mib", options.grpc_max_message_mib,
                            "Largest gRPC message received or sent")
      ->envname("SURGE_GRPC_MAX_MESSAGE_MIB")
      ->check(CLI::Range(std::size_t{1}, std::size_t{2047}))
      ->capture_default_str();
  serve_command->add_option("--threads", options.threads, "I/O threads")
      ->envname("SURGE_THREADS")
      ->check(CLI::Range(1u, 1024u))
      ->capture_default_str();
  serve_command->add_flag("--strict", options.strict, "Exit when any model fails to load")->envname("SURGE_STRICT");
  serve_command
      ->add_option("--model-control-mode", options.model_control_mode,
                   "none: load the repository at start; explicit: load --load-model at start, then load and unload "
                   "through /v2/repository/models/{m}/load|unload and gRPC; poll: load it at start, then follow its "
                   "changes")
      ->check(CLI::IsMember({"none", "explicit", "poll"}))
      ->envname("SURGE_MODEL_CONTROL_MODE");
  serve_command->add_option("--load-model", options.load_models,
                            "With --model-control-mode explicit: a model to load at start (repeat; * for all)");
  serve_command
      ->add_option("--repository-poll-secs", options.repository_poll_secs,
                   "With --model-control-mode poll: seconds between scans of the repository")
      ->check(CLI::Range(1u, 86400u))
      ->envname("SURGE_REPOSITORY_POLL_SECS");
  serve_command->add_option("--backend-directory", options.backend_directory,
                            "Where libsurge_backend_<name>.so live (default: backends/ beside the binary)")
      ->envname("SURGE_BACKEND_DIRECTORY");
  serve_command->add_option("--max-body-mib", options.max_body_mib, "Largest request body accepted")
      ->envname("SURGE_MAX_BODY_MIB")
      ->capture_default_str();
  serve_command->add_option("--idle-timeout", options.idle_timeout_seconds, "Seconds a keep-alive connection may idle")
      ->envname("SURGE_IDLE_TIMEOUT")
      ->capture_default_str();
  serve_command->add_option("--max-connections", options.max_connections,
                            "Open HTTP connections on the inference port (at the limit the longest-idle one is closed)")
      ->envname("SURGE_MAX_CONNECTIONS")
      ->check(CLI::Range(std::size_t{1}, std::size_t{1} << 24))
      ->capture_default_str();
  serve_command->add_option("--max-connections-per-client", options.max_connections_per_client,
                            "Of those, open from one client address (0: no per-client limit)")
      ->envname("SURGE_MAX_CONNECTIONS_PER_CLIENT")
      ->capture_default_str();
  serve_command->add_option("--metrics-max-connections", options.metrics_max_connections,
                            "Open connections on the metrics port, apart from the inference port's")
      ->envname("SURGE_METRICS_MAX_CONNECTIONS")
      ->check(CLI::Range(std::size_t{1}, std::size_t{1} << 20))
      ->capture_default_str();
  serve_command->add_option("--drain-timeout", options.drain_timeout_seconds,
                            "Seconds to wait for requests in flight at shutdown")
      ->envname("SURGE_DRAIN_TIMEOUT")
      ->capture_default_str();
  serve_command->add_option("--heap-release-ms", options.heap_release_ms,
                            "How often freed heap memory is handed back to the kernel (0: never)")
      ->envname("SURGE_HEAP_RELEASE_MS")
      ->capture_default_str();

  serve_command->add_option("--redis", options.redis_url,
                            "redis://host:port[/db] where worker-pool models' workers read their requests and features "
                            "models their event streams")
      ->envname("SURGE_REDIS");
  serve_command->add_option("--fetch-allow", options.fetch_allow,
                            "ADDRESS:PORT image URLs may reach although private or local (repeatable)")
      ->envname("SURGE_FETCH_ALLOW");
  serve_command->add_option("--fetch-max-concurrency", options.fetch_max_concurrency, "Image downloads at once")
      ->envname("SURGE_FETCH_MAX_CONCURRENCY")->check(CLI::PositiveNumber)->capture_default_str();
  serve_command->add_option("--fetch-max-per-host", options.fetch_max_per_host, "Image downloads at once per host")
      ->envname("SURGE_FETCH_MAX_PER_HOST")->check(CLI::PositiveNumber)->capture_default_str();
  serve_command->add_option("--fetch-timeout-ms", options.fetch_timeout_ms, "Time for one image download")
      ->envname("SURGE_FETCH_TIMEOUT_MS")->check(CLI::PositiveNumber)->capture_default_str();
  serve_command->add_option("--fetch-max-body-mib", options.fetch_max_body_mib, "Largest image download")
      ->envname("SURGE_FETCH_MAX_BODY_MIB")->check(CLI::PositiveNumber)->capture_default_str();
  serve_command->add_option("--image-threads", options.image_threads,
                            "Threads decoding and resizing images (0: one per hardware thread)")
      ->envname("SURGE_IMAGE_THREADS")
      ->capture_default_str();
  serve_command->add_option("--api-key-file", options.api_key_file,
                            "API keys, one a line: '<key>' (every group) or '<group> <key>' (inference, "
                            "management, metrics); SURGE_API_KEYS adds keys in the same form, ','-separated")
      ->envname("SURGE_API_KEY_FILE");
  serve_command->add_option("--tls-cert-file", options.tls.cert_file,
                            "PEM certificate (then its chain) for TLS on the HTTP and gRPC ports; SIGHUP reloads it")
      ->envname("SURGE_TLS_CERT_FILE");
  serve_command->add_option("--tls-key-file", options.tls.key_file, "PEM private key of --tls-cert-file")
      ->envname("SURGE_TLS_KEY_FILE");
  serve_command->add_option("--tls-client-ca-file", options.tls.client_ca_file,
                            "PEM CA certificates: clients must present a certificate they signed (mutual TLS)")
      ->envname("SURGE_TLS_CLIENT_CA_FILE");

  surge::bench::bench_arguments bench_arguments;
  auto* bench_command = surge::bench::add_bench_command(app, bench_arguments);

  surge::worker::worker_arguments worker_arguments;
  auto* worker_command = surge::worker::add_worker_command(app, worker_arguments);

  surge::score::score_arguments score_arguments;
  auto* score_command = surge::score::add_score_command(app, score_arguments);

  CLI11_PARSE(app, argc, argv);
  if (serve_command->parsed()) return serve(options);
  if (worker_command->parsed()) return surge::worker::run_worker_command(worker_arguments);
  if (bench_command->parsed()) return surge::bench::run_bench_command(bench_arguments, argc, argv, surge_version);
  if (score_command->parsed()) return surge::score::run_score_command(score_arguments);
  return 0;
}
