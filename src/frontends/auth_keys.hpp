#pragma once

#include <array>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "core/status.hpp"

namespace surge::auth {

// Endpoints are guarded in groups, each with its own keys (docs/configuration.md):
//   inference:  KServe inference and metadata (HTTP /v2..., gRPC), the OpenAI API (/v1)
//   management: the model repository (POST /v2/repository/..., gRPC RepositoryIndex)
//   metrics:    the Prometheus endpoint
// Health (/v2/health/*, model ready, gRPC ServerLive/ServerReady/ModelReady)
// is never guarded: probes carry no keys.
enum class endpoint_group { inference, management, metrics };
inline constexpr std::size_t endpoint_group_count = 3;
std::string_view name_of(endpoint_group group);

// The accepted API keys of each group; a group without keys is open.
class api_keys {
 public:
  // Parses lines of "<key>" (every group) or "<group> <key>", group one of
  // inference, management, metrics. Blank lines and lines starting with '#'
  // are skipped; `separators` also splits entries (the environment variable
  // takes "k1,metrics k2"). Errors name the line (`source`, 1-based).
  static std::variant<api_keys, error> parse(std::string_view text, std::string_view source,
                                             std::string_view separators = "\n");
  // Reads and parses a key file; an unreadable or empty one is an error, so
  // a typo in the path never leaves the server open.
  static std::variant<api_keys, error> load_file(const std::string& path);
  // Adds `other`'s keys to this set's.
  void merge(const api_keys& other);

  bool guarded(endpoint_group group) const { return !keys_[index(group)].empty(); }
  bool any_guarded() const;
  // Whether `presented` is one of `group`'s keys. Compares against every
  // key, each in time that depends only on that key's length, so neither
  // the answer's timing nor which key matched leaks how much of a guess was
  // right.
  bool accepts(endpoint_group group, std::string_view presented) const;

 private:
  static std::size_t index(endpoint_group group) { return static_cast<std::size_t>(group); }
  std::array<std::vector<std::string>, endpoint_group_count> keys_;
};

// The key a request presents: "Authorization: Bearer <key>" (OpenAI and
// tritonclient users set this header) or "X-API-Key: <key>". nullopt when
// neither header carries one.
std::optional<std::string_view> presented_key(std::optional<std::string_view> authorization,
                                              std::optional<std::string_view> x_api_key);

// The message of a refusal: names the group and what was wrong, never the
// key that was sent.
std::string refusal_message(endpoint_group group, bool key_given);

// Where an HTTP target of the inference port belongs; nullopt: a health
// endpoint, never guarded.
std::optional<endpoint_group> group_of_http_target(std::string_view target);

}  // namespace surge::auth
