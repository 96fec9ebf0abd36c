#include "features/static_attributes.hpp"

#include <limits>

#include "features/feature_event_parse.hpp"

namespace surge::features {

static_attributes::static_attributes(boost::asio::any_io_executor io, redis::endpoint where, const feature_spec& spec)
    : spec_(spec) {
  if (spec_.static_fields.empty()) return;
  redis::connection_options options;
  options.client_name = "surge-features-" + spec.model + "-attributes";
  connection_ = redis::connection::create(std::move(io), std::move(where), options);
}

void static_attributes::start() {
  if (connection_) connection_->start();
}

void static_attributes::stop() {
  if (connection_) connection_->stop_and_wait();
}

boost::asio::awaitable<std::optional<error>> static_attributes::fetch(const std::vector<std::string>& entities,
                                                                      std::vector<std::vector<double>>& out) {
  out.assign(entities.size(), {});
  if (spec_.static_fields.empty()) co_return std::nullopt;
  const auto now = std::chrono::steady_clock::now();
  std::vector<std::size_t> missing;
  {
    std::lock_guard lock(mutex_);
    for (std::size_t row = 0; row < entities.size(); ++row) {
      const auto found = cache_.find(entities[row]);
      if (found != cache_.end() && found->second.expires > now) out[row] = found->second.values;
      else missing.push_back(row);
    }
  }
  if (missing.empty()) co_return std::nullopt;
  std::vector<redis::command> commands;
  for (const auto row : missing) {
    redis::command get{"HMGET", spec_.hash_prefix + entities[row]};
    for (const auto& field : spec_.static_fields) get.arg(field);
    commands.push_back(std::move(get));
  }
  auto replies = co_await connection_->exec_all(std::move(commands));
  const auto expires = std::chrono::steady_clock::now() + std::chrono::milliseconds(spec_.static_ttl_ms);
  std::lock_guard lock(mutex_);
  // Bounded like the windows: past max_entities, expired entries go, then all.
  if (cache_.size() > spec_.max_entities) {
    std::erase_if(cache_, [now](const auto& entry) { return entry.second.expires <= now; });
    if (cache_.size() > spec_.max_entities) cache_.clear();
  }
  for (std::size_t i = 0; i < missing.size(); ++i) {
    const auto& r = replies[i];
    if (r.is_error()) {
      co_return make_error(error_code::unavailable, "features.static_attributes: reading " + spec_.hash_prefix +
                                                        entities[missing[i]] + ": " + std::string(r.text()));
    }
    std::vector<double> values(spec_.static_fields.size(), std::numeric_limits<double>::quiet_NaN());
    for (std::size_t f = 0; f < values.size() && f < r.size(); ++f) {
      if (r[f].is_string()) values[f] = parse_number_or_nan(r[f].text());
    }
    out[missing[i]] = values;
    cache_[entities[missing[i]]] = {std::move(values), expires};
  }
  co_return std::nullopt;
}

}  // namespace surge::features
