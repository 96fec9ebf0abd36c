#include "frontends/http/auth_handler.hpp"

#include "wire/kserve_response.hpp"

namespace surge::http {

namespace http = beast::http;

auth_handler::auth_handler(request_handler& inner, const auth::api_keys& keys, group_of_target group_of,
                           error_body body)
    : inner_(inner), keys_(keys), group_of_(std::move(group_of)), body_(std::move(body)) {
  if (!body_) body_ = [](std::string_view message) { return wire::encode_error(message); };
}

header_verdict auth_handler::screen(const request_header& header) {
  if (keys_.any_guarded()) {
    const auto group = group_of_(header.target());
    if (group && keys_.guarded(*group)) {
      const auto field = [&](std::string_view name) -> std::optional<std::string_view> {
        auto it = header.find(name);
        if (it == header.end()) return std::nullopt;
        return std::string_view(it->value());
      };
      const auto key = auth::presented_key(field("Authorization"), field("X-API-Key"));
      if (!key || !keys_.accepts(*group, *key)) {
        header_verdict verdict;
        verdict.refusal =
            json_response(http::status::unauthorized, body_(auth::refusal_message(*group, key.has_value())),
                          header.version(), false);
        verdict.refusal->set(http::field::www_authenticate, "Bearer");
        return verdict;
      }
    }
  }
  return inner_.screen(header);
}

}  // namespace surge::http
