#include "frontends/tls/tls_reloader.hpp"

#include <csignal>
#include <iostream>

#include <boost/asio/post.hpp>

namespace surge::tls {

tls_reloader::tls_reloader(boost::asio::io_context& io, metrics::registry& metrics) : metrics_(metrics), signals_(io) {}

tls_reloader::~tls_reloader() { stop(); }

void tls_reloader::add(std::string listener_name, tls_credentials& credentials) {
  static const std::string name = "surge_tls_reloads_total";
  static const std::string help = "TLS certificate reloads (SIGHUP) by listener and result";
  auto& succeeded = metrics_.make_counter(name, help, {{"listener", listener_name}, {"result", "success"}});
  auto& failed = metrics_.make_counter(name, help, {{"listener", listener_name}, {"result", "failure"}});
  listeners_.push_back({std::move(listener_name), &credentials, &succeeded, &failed});
}

void tls_reloader::start() {
  signals_.add(SIGHUP);
  wait_for_signal();
}

void tls_reloader::wait_for_signal() {
  signals_.async_wait([this](boost::system::error_code ec, int) {
    if (ec) return;  // stopped
    boost::asio::post(reload_thread_, [this] { reload_now(); });
    wait_for_signal();
  });
}

void tls_reloader::stop() {
  if (stopped_) return;
  stopped_ = true;
  boost::system::error_code ignored;
  signals_.cancel(ignored);
  signals_.clear(ignored);
  reload_thread_.join();
}

void tls_reloader::reload_now() {
  for (auto& entry : listeners_) {
    if (auto failure = entry.credentials->reload()) {
      entry.failed->increment();
      std::cerr << "surge: TLS reload failed for the " << entry.name << " listener, which keeps its certificate: "
                << failure->message << std::endl;
    } else {
      entry.succeeded->increment();
      std::cout << "surge: TLS certificate reloaded for the " << entry.name << " listener" << std::endl;
    }
  }
}

}  // namespace surge::tls
