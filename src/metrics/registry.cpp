#include "metrics/registry.hpp"

#include <algorithm>
#include <cstdio>
#include <stdexcept>

namespace surge::metrics {

namespace {

std::string escape_label_value(const std::string& value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    if (c == '\\' || c == '"') {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::string render_labels(const labels& series_labels) {
  std::string out;
  for (const auto& [key, value] : series_labels) {
    if (!out.empty()) out += ',';
    out += key + "=\"" + escape_label_value(value) + "\"";
  }
  return out;
}

std::string format_double(double value) {
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%.17g", value);
  return buffer;
}

std::string braces(const std::string& rendered) { return rendered.empty() ? "" : "{" + rendered + "}"; }

}  // namespace

histogram::histogram(std::vector<double> upper_bounds)
    : upper_bounds_(std::move(upper_bounds)),
      counts_(std::make_unique<std::atomic<std::uint64_t>[]>(upper_bounds_.size() + 1)) {
  if (!std::is_sorted(upper_bounds_.begin(), upper_bounds_.end())) {
    throw std::invalid_argument("histogram bucket bounds must be sorted");
  }
}

void histogram::observe(double value) noexcept {
  const auto it = std::lower_bound(upper_bounds_.begin(), upper_bounds_.end(), value);
  counts_[static_cast<std::size_t>(it - upper_bounds_.begin())].fetch_add(1, std::memory_order_relaxed);
  count_.fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(value, std::memory_order_relaxed);
}

std::vector<double> duration_buckets() {
  return {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60};
}

std::vector<double> batch_size_buckets() { return {1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024}; }

registry::family& registry::family_for(const std::string& name, const std::string& help, kind type) {
  auto [it, inserted] = families_.try_emplace(name, family{help, type, {}, {}, {}});
  if (!inserted && it->second.type != type) {
    throw std::logic_error("metric " + name + " registered with two types");
  }
  return it->second;
}

template <typename T, typename Make>
std::shared_ptr<T> registry::add(std::vector<series_entry<T>> family::*member, kind type, const std::string& name,
                                 const std::string& help, const labels& series_labels, Make make) {
  std::lock_guard lock(mutex_);
  auto& entries = family_for(name, help, type).*member;
  const auto rendered = render_labels(series_labels);
  for (auto& entry : entries) {
    if (entry.rendered_labels != rendered) continue;
    ++entry.holders;
    return entry.series;
  }
  auto& entry = entries.emplace_back(series_entry<T>{rendered, make(), 1});
  return entry.series;
}

std::shared_ptr<counter> registry::add_counter(const std::string& name, const std::string& help,
                                               const labels& series_labels) {
  return add(&family::counters, kind::counter, name, help, series_labels, [] { return std::make_shared<counter>(); });
}

std::shared_ptr<gauge> registry::add_gauge(const std::string& name, const std::string& help,
                                           const labels& series_labels) {
  return add(&family::gauges, kind::gauge, name, help, series_labels, [] { return std::make_shared<gauge>(); });
}

std::shared_ptr<histogram> registry::add_histogram(const std::string& name, const std::string& help,
                                                   const labels& series_labels, std::vector<double> upper_bounds) {
  return add(&family::histograms, kind::histogram, name, help, series_labels,
             [&] { return std::make_shared<histogram>(std::move(upper_bounds)); });
}

// The registry's own reference keeps these alive, and nobody removes them.
counter& registry::make_counter(const std::string& name, const std::string& help, const labels& series_labels) {
  return *add_counter(name, help, series_labels);
}

gauge& registry::make_gauge(const std::string& name, const std::string& help, const labels& series_labels) {
  return *add_gauge(name, help, series_labels);
}

histogram& registry::make_histogram(const std::string& name, const std::string& help, const labels& series_labels,
                                    std::vector<double> upper_bounds) {
  return *add_histogram(name, help, series_labels, std::move(upper_bounds));
}

void registry::remove(const std::string& name, const void* series) {
  std::lock_guard lock(mutex_);
  const auto it = families_.find(name);
  if (it == families_.end()) return;
  auto& fam = it->second;
  const auto drop = [series](auto& entries) {
    for (auto entry = entries.begin(); entry != entries.end(); ++entry) {
      if (entry->series.get() != series) continue;
      if (--entry->holders == 0) entries.erase(entry);
      return;
    }
  };
  drop(fam.counters);
  drop(fam.gauges);
  drop(fam.histograms);
  if (fam.empty()) families_.erase(it);
}

counter& series_group::make_counter(const std::string& name, const std::string& help, const labels& series_labels) {
  auto series = registry_.add_counter(name, help, series_labels);
  auto& out = *series;
  held_.push_back({name, std::move(series), true});
  return out;
}

gauge& series_group::make_gauge(const std::string& name, const std::string& help, const labels& series_labels) {
  auto series = registry_.add_gauge(name, help, series_labels);
  auto& out = *series;
  held_.push_back({name, std::move(series), true});
  return out;
}

histogram& series_group::make_histogram(const std::string& name, const std::string& help,
                                        const labels& series_labels, std::vector<double> upper_bounds) {
  auto series = registry_.add_histogram(name, help, series_labels, std::move(upper_bounds));
  auto& out = *series;
  held_.push_back({name, std::move(series), true});
  return out;
}

void series_group::remove_all() {
  for (auto& entry : held_) {
    if (!entry.registered) continue;
    registry_.remove(entry.name, entry.series.get());
    entry.registered = false;
  }
}

std::shared_ptr<void> registry::add_gauge_collector(const std::string& name, const std::string& help,
                                                    std::function<void(sample_list&)> collect) {
  std::lock_guard lock(mutex_);
  if (families_.count(name) != 0) throw std::logic_error("metric " + name + " registered with two types");
  auto& fam = collected_.try_emplace(name, collected_family{help, {}}).first->second;
  const auto id = next_collector_++;
  fam.collectors.emplace(id, std::move(collect));
  // The handle owns nothing; its deleter unregisters.
  return std::shared_ptr<void>(nullptr, [this, name, id](void*) {
    std::lock_guard unregister(mutex_);
    const auto it = collected_.find(name);
    if (it == collected_.end()) return;
    it->second.collectors.erase(id);
    if (it->second.collectors.empty()) collected_.erase(it);
  });
}

std::string registry::render() const {
  std::lock_guard lock(mutex_);
  std::string out;
  out.reserve(16384);
  for (const auto& [name, fam] : families_) {
    out += "# HELP " + name + " " + fam.help + "\n";
    switch (fam.type) {
      case kind::counter:
        out += "# TYPE " + name + " counter\n";
        for (const auto& entry : fam.counters) {
          out += name + braces(entry.rendered_labels) + " " + std::to_string(entry.series->value()) + "\n";
        }
        break;
      case kind::gauge:
        out += "# TYPE " + name + " gauge\n";
        for (const auto& entry : fam.gauges) {
          out += name + braces(entry.rendered_labels) + " " + std::to_string(entry.series->value()) + "\n";
        }
        break;
      case kind::histogram:
        out += "# TYPE " + name + " histogram\n";
        for (const auto& entry : fam.histograms) {
          const auto& rendered = entry.rendered_labels;
          const auto& series = entry.series;
          const std::string prefix = rendered.empty() ? "" : rendered + ",";
          std::uint64_t cumulative = 0;
          const auto& bounds = series->upper_bounds();
          for (std::size_t i = 0; i <= bounds.size(); ++i) {
            cumulative += series->bucket_count(i);
            const std::string le = i < bounds.size() ? format_double(bounds[i]) : "+Inf";
            out += name + "_bucket{" + prefix + "le=\"" + le + "\"} " + std::to_string(cumulative) + "\n";
          }
          // Read after the buckets so _count is never below the +Inf bucket.
          out += name + "_sum" + braces(rendered) + " " + format_double(series->sum()) + "\n";
          out += name + "_count" + braces(rendered) + " " + std::to_string(cumulative) + "\n";
        }
        break;
    }
  }
  sample_list samples;
  for (const auto& [name, fam] : collected_) {
    out += "# HELP " + name + " " + fam.help + "\n";
    out += "# TYPE " + name + " gauge\n";
    for (const auto& [id, collect] : fam.collectors) {
      samples.clear();
      collect(samples);
      for (const auto& [series_labels, value] : samples) {
        out += name + braces(render_labels(series_labels)) + " " + format_double(value) + "\n";
      }
    }
  }
  return out;
}

}  // namespace surge::metrics
