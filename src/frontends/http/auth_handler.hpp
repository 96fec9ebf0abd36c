#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "frontends/auth_keys.hpp"
#include "frontends/http/http_server.hpp"

namespace surge::http {

// Guards a handler with API keys (frontends/auth_keys.hpp). The key is
// checked from the headers, before the body is read: a request without a
// valid key for its target's group gets 401 with `WWW-Authenticate: Bearer`
// and the protocol's error body, and its connection is closed. A target whose
// group has no keys, or that `group_of` calls health (nullopt), passes.
class auth_handler final : public request_handler {
 public:
  using group_of_target = std::function<std::optional<auth::endpoint_group>(std::string_view target)>;
  using error_body = std::function<std::string(std::string_view message)>;

  // `body` makes the protocol's error object; the KServe `{"error": ...}` when unset.
  auth_handler(request_handler& inner, const auth::api_keys& keys, group_of_target group_of, error_body body = {});

  header_verdict screen(const request_header& header) override;
  asio::awaitable<handler_result> handle(request_message& request, connection_stream& stream) override {
    co_return co_await inner_.handle(request, stream);
  }

 private:
  request_handler& inner_;
  const auth::api_keys& keys_;
  group_of_target group_of_;
  error_body body_;
};

}  // namespace surge::http
