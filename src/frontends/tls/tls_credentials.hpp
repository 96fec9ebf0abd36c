#pragma once

#include <atomic>
#include <boost/asio/ssl/context.hpp>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <variant>

#include "core/status.hpp"
#include "frontends/tls/tls_context.hpp"

namespace surge::tls {

// One listener's TLS context, replaced as a whole by reload(): a connection
// takes current() once, before its handshake, and keeps that context for its
// life, so a reload changes what new connections see and nothing else. A
// reload that fails keeps the context that was serving.
class tls_credentials {
 public:
  // Loads the files once; errors name the flag and the file.
  static std::variant<std::unique_ptr<tls_credentials>, error> load(tls_files files, std::string alpn);

  std::shared_ptr<boost::asio::ssl::context> current() const;
  // Reads the files again. Blocks on file reads: call it off the I/O threads.
  std::optional<error> reload();

  std::uint64_t reloads() const { return reloads_.load(std::memory_order_relaxed); }
  std::uint64_t reload_failures() const { return reload_failures_.load(std::memory_order_relaxed); }
  const tls_files& files() const { return files_; }

 private:
  tls_credentials(tls_files files, std::string alpn, std::shared_ptr<boost::asio::ssl::context> context);

  const tls_files files_;
  const std::string alpn_;
  mutable std::mutex mutex_;
  std::shared_ptr<boost::asio::ssl::context> current_;  // guarded by mutex_
  std::atomic<std::uint64_t> reloads_{0};
  std::atomic<std::uint64_t> reload_failures_{0};
};

}  // namespace surge::tls
