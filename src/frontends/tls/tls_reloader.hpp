#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/thread_pool.hpp>
#include <string>
#include <vector>

#include "frontends/tls/tls_credentials.hpp"
#include "metrics/registry.hpp"

namespace surge::tls {

// SIGHUP reloads every TLS listener's files. The files are read on a thread
// of the reloader's own, never an I/O thread. A listener whose files fail to
// load keeps its certificate and the error is logged; each outcome is
// counted in surge_tls_reloads_total{listener, result}.
class tls_reloader {
 public:
  tls_reloader(boost::asio::io_context& io, metrics::registry& metrics);
  ~tls_reloader();

  // `credentials` outlive the reloader.
  void add(std::string listener, tls_credentials& credentials);
  // Listens for SIGHUP.
  void start();
  // Stops listening and waits for a reload under way.
  void stop();
  // What one SIGHUP does; blocks on the file reads.
  void reload_now();

 private:
  void wait_for_signal();

  struct listener {
    std::string name;
    tls_credentials* credentials;
    metrics::counter* succeeded;
    metrics::counter* failed;
  };
  metrics::registry& metrics_;
  boost::asio::signal_set signals_;
  boost::asio::thread_pool reload_thread_{1};
  std::vector<listener> listeners_;
  bool stopped_{false};
};

}  // namespace surge::tls
