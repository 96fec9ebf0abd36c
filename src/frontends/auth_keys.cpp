#include "frontends/auth_keys.hpp"

#include <algorithm>
#include <cctype>
#include <fstream>
#include <sstream>

namespace surge::auth {

namespace {

std::string_view trim(std::string_view text) {
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front()))) text.remove_prefix(1);
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) text.remove_suffix(1);
  return text;
}

std::optional<endpoint_group> group_named(std::string_view name) {
  if (name == "inference") return endpoint_group::inference;
  if (name == "management") return endpoint_group::management;
  if (name == "metrics") return endpoint_group::metrics;
  return std::nullopt;
}

// Time depends on the configured key's length only: every byte of it is
// looked at whatever `presented` holds.
bool equal_in_constant_time(std::string_view key, std::string_view presented) {
  unsigned char difference = key.size() == presented.size() ? 0 : 1;
  for (std::size_t i = 0; i < key.size(); ++i) {
    const char other = presented.empty() ? '\0' : presented[i % presented.size()];
    difference |= static_cast<unsigned char>(key[i] ^ other);
  }
  return difference == 0;
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

}  // namespace

std::string_view name_of(endpoint_group group) {
  switch (group) {
    case endpoint_group::inference:
      return "inference";
    case endpoint_group::management:
      return "management";
    case endpoint_group::metrics:
      break;
  }
  return "metrics";
}

std::variant<api_keys, error> api_keys::parse(std::string_view text, std::string_view source,
                                              std::string_view separators) {
  api_keys keys;
  std::size_t line_number = 0;
  while (!text.empty() || line_number == 0) {
    ++line_number;
    const auto end = text.find_first_of(separators);
    auto line = trim(text.substr(0, end));
    text = end == std::string_view::npos ? std::string_view{} : text.substr(end + 1);
    if (line.empty() || line.front() == '#') {
      if (text.empty()) break;
      continue;
    }
    const auto where = std::string(source) + ":" + std::to_string(line_number);
    const auto space = line.find_first_of(" \t");
    if (space == std::string_view::npos) {
      for (auto& group_keys : keys.keys_) group_keys.emplace_back(line);
      continue;
    }
    const auto group_name = line.substr(0, space);
    const auto key = trim(line.substr(space + 1));
    const auto group = group_named(group_name);
    if (!group) {
      return make_error(error_code::invalid_argument,
                        where + ": '" + std::string(group_name).substr(0, 32) +
                            "' is not a group (inference, management, metrics); a line is '<key>' or '<group> <key>'");
    }
    if (key.find_first_of(" \t") != std::string_view::npos) {
      return make_error(error_code::invalid_argument, where + ": a key holds no spaces");
    }
    keys.keys_[index(*group)].emplace_back(key);
  }
  return keys;
}

std::variant<api_keys, error> api_keys::load_file(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  if (!file) return make_error(error_code::invalid_argument, "cannot read the API key file " + path);
  std::stringstream text;
  text << file.rdbuf();
  auto parsed = parse(text.str(), path);
  if (auto* keys = std::get_if<api_keys>(&parsed); keys && !keys->any_guarded()) {
    return make_error(error_code::invalid_argument, "the API key file " + path + " holds no key");
  }
  return parsed;
}

void api_keys::merge(const api_keys& other) {
  for (std::size_t i = 0; i < endpoint_group_count; ++i) {
    keys_[i].insert(keys_[i].end(), other.keys_[i].begin(), other.keys_[i].end());
  }
}

bool api_keys::any_guarded() const {
  return std::any_of(keys_.begin(), keys_.end(), [](const auto& keys) { return !keys.empty(); });
}

bool api_keys::accepts(endpoint_group group, std::string_view presented) const {
  bool accepted = false;
  for (const auto& key : keys_[index(group)]) accepted |= equal_in_constant_time(key, presented);
  return accepted;
}

std::optional<std::string_view> presented_key(std::optional<std::string_view> authorization,
                                              std::optional<std::string_view> x_api_key) {
  if (authorization) {
    auto value = trim(*authorization);
    constexpr std::string_view scheme = "bearer";
    if (value.size() > scheme.size() && iequals(value.substr(0, scheme.size()), scheme) &&
        (value[scheme.size()] == ' ' || value[scheme.size()] == '\t')) {
      auto key = trim(value.substr(scheme.size()));
      if (!key.empty()) return key;
    }
  }
  if (x_api_key) {
    auto key = trim(*x_api_key);
    if (!key.empty()) return key;
  }
  return std::nullopt;
}

std::string refusal_message(endpoint_group group, bool key_given) {
  const std::string endpoints(name_of(group));
  if (!key_given) {
    return "the " + endpoints + " endpoints need an API key: send 'Authorization: Bearer <key>'";
  }
  return "the API key is not valid for the " + endpoints + " endpoints";
}

std::optional<endpoint_group> group_of_http_target(std::string_view target) {
  // The segments as the KServe router splits them (empty ones dropped), so
  // a target is open only when it would be routed to a health endpoint.
  if (auto q = target.find('?'); q != std::string_view::npos) target = target.substr(0, q);
  std::vector<std::string_view> parts;
  while (!target.empty() && parts.size() < 7) {
    const auto slash = target.find('/');
    if (slash != 0) parts.push_back(target.substr(0, slash));
    if (slash == std::string_view::npos) break;
    target.remove_prefix(slash + 1);
  }
  if (parts.size() < 2 || parts[0] != "v2") return endpoint_group::inference;
  if (parts.size() == 3 && parts[1] == "health" && (parts[2] == "live" || parts[2] == "ready")) return std::nullopt;
  if (parts[1] == "models") {
    if (parts.size() == 4 && parts[3] == "ready") return std::nullopt;
    if (parts.size() == 6 && parts[3] == "versions" && parts[5] == "ready") return std::nullopt;
  }
  if (parts[1] == "repository") return endpoint_group::management;
  return endpoint_group::inference;
}

}  // namespace surge::auth
