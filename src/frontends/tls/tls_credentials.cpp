#include "frontends/tls/tls_credentials.hpp"

namespace surge::tls {

std::variant<std::unique_ptr<tls_credentials>, error> tls_credentials::load(tls_files files, std::string alpn) {
  auto loaded = load_server_context(files, alpn);
  if (auto* failure = std::get_if<error>(&loaded)) return std::move(*failure);
  return std::unique_ptr<tls_credentials>(new tls_credentials(
      std::move(files), std::move(alpn), std::get<std::shared_ptr<boost::asio::ssl::context>>(std::move(loaded))));
}

tls_credentials::tls_credentials(tls_files files, std::string alpn, std::shared_ptr<boost::asio::ssl::context> context)
    : files_(std::move(files)), alpn_(std::move(alpn)), current_(std::move(context)) {}

std::shared_ptr<boost::asio::ssl::context> tls_credentials::current() const {
  std::lock_guard lock(mutex_);
  return current_;
}

std::optional<error> tls_credentials::reload() {
  auto loaded = load_server_context(files_, alpn_);
  if (auto* failure = std::get_if<error>(&loaded)) {
    reload_failures_.fetch_add(1, std::memory_order_relaxed);
    return std::move(*failure);
  }
  {
    std::lock_guard lock(mutex_);
    current_ = std::get<std::shared_ptr<boost::asio::ssl::context>>(std::move(loaded));
  }
  reloads_.fetch_add(1, std::memory_order_relaxed);
  return std::nullopt;
}

}  // namespace surge::tls
