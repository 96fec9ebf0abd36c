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

counter& registry::make_counter(const std::string& name, const std::string& help, const labels& series_labels) {
  std::lock_guard lock(mutex_);
  auto& fam = family_for(name, help, kind::counter);
  const auto rendered = render_labels(series_labels);
  for (auto& [key, series] : fam.counters) {
    if (key == rendered) return *series;
  }
  auto& series = counter_storage_.emplace_back();
  fam.counters.emplace_back(rendered, &series);
  return series;
}

gauge& registry::make_gauge(const std::string& name, const std::string& help, const labels& series_labels) {
  std::lock_guard lock(mutex_);
  auto& fam = family_for(name, help, kind::gauge);
  const auto rendered = render_labels(series_labels);
  for (auto& [key, series] : fam.gauges) {
    if (key == rendered) return *series;
  }
  auto& series = gauge_storage_.emplace_back();
  fam.gauges.emplace_back(rendered, &series);
  return series;
}

histogram& registry::make_histogram(const std::string& name, const std::string& help, const labels& series_labels,
                                    std::vector<double> upper_bounds) {
  std::lock_guard lock(mutex_);
  auto& fam = family_for(name, help, kind::histogram);
  const auto rendered = render_labels(series_labels);
  for (auto& [key, series] : fam.histograms) {
    if (key == rendered) return *series;
  }
  auto& series = *histogram_storage_.emplace_back(std::make_unique<histogram>(std::move(upper_bounds)));
  fam.histograms.emplace_back(rendered, &series);
  return series;
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
        for (const auto& [rendered, series] : fam.counters) {
          out += name + braces(rendered) + " " + std::to_string(series->value()) + "\n";
        }
        break;
      case kind::gauge:
        out += "# TYPE " + name + " gauge\n";
        for (const auto& [rendered, series] : fam.gauges) {
          out += name + braces(rendered) + " " + std::to_string(series->value()) + "\n";
        }
        break;
      case kind::histogram:
        out += "# TYPE " + name + " histogram\n";
        for (const auto& [rendered, series] : fam.histograms) {
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
