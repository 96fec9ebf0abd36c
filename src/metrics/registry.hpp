#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace surge::metrics {

using labels = std::vector<std::pair<std::string, std::string>>;

// Series are updated lock-free from any thread; only creating, removing and
// rendering take the registry's lock.
class counter {
 public:
  void increment(std::uint64_t n = 1) noexcept { value_.fetch_add(n, std::memory_order_relaxed); }
  std::uint64_t value() const noexcept { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::uint64_t> value_{0};
};

class gauge {
 public:
  void add(std::int64_t n) noexcept { value_.fetch_add(n, std::memory_order_relaxed); }
  void set(std::int64_t n) noexcept { value_.store(n, std::memory_order_relaxed); }
  std::int64_t value() const noexcept { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::int64_t> value_{0};
};

class histogram {
 public:
  explicit histogram(std::vector<double> upper_bounds);
  void observe(double value) noexcept;
  const std::vector<double>& upper_bounds() const { return upper_bounds_; }
  // Non-cumulative count of bucket i; index upper_bounds().size() is +Inf.
  std::uint64_t bucket_count(std::size_t i) const noexcept { return counts_[i].load(std::memory_order_relaxed); }
  std::uint64_t count() const noexcept { return count_.load(std::memory_order_relaxed); }
  double sum() const noexcept { return sum_.load(std::memory_order_relaxed); }

 private:
  std::vector<double> upper_bounds_;
  std::unique_ptr<std::atomic<std::uint64_t>[]> counts_;
  std::atomic<std::uint64_t> count_{0};
  std::atomic<double> sum_{0.0};
};

// Bucket bounds for durations in seconds, 100 µs to 60 s.
std::vector<double> duration_buckets();
// Bucket bounds for batch sizes: powers of two up to 1024.
std::vector<double> batch_size_buckets();

// Samples a collector hands over when the registry is rendered.
using sample_list = std::vector<std::pair<labels, double>>;

// The series of every family, rendered in the Prometheus text format.
//
// A series is shared: the registry and whoever updates it each hold it, so
// an update racing with remove() touches memory that is still owned. Asking
// twice for the same name and label set returns the same series and counts
// one more holder; remove() takes one holder away, and the series leaves the
// rendering when none is left. (A model version reloaded under the same
// version number thereby keeps counting where the old one stopped, and the
// old one's removal does not hide the new one's series.)
class registry {
 public:
  registry() = default;
  registry(const registry&) = delete;
  registry& operator=(const registry&) = delete;

  // Series that live as long as the registry (never removed).
  counter& make_counter(const std::string& name, const std::string& help, const labels& series_labels);
  gauge& make_gauge(const std::string& name, const std::string& help, const labels& series_labels);
  histogram& make_histogram(const std::string& name, const std::string& help, const labels& series_labels,
                            std::vector<double> upper_bounds);

  // Removable series: hand the result back to remove() once (series_group
  // does that for a set of them).
  std::shared_ptr<counter> add_counter(const std::string& name, const std::string& help, const labels& series_labels);
  std::shared_ptr<gauge> add_gauge(const std::string& name, const std::string& help, const labels& series_labels);
  std::shared_ptr<histogram> add_histogram(const std::string& name, const std::string& help,
                                           const labels& series_labels, std::vector<double> upper_bounds);
  // Drops one holder of the series `name` made by add_*; with none left it is
  // no longer rendered, nor is a family left without series.
  void remove(const std::string& name, const void* series);

  // A gauge family whose samples are read when the registry is rendered, for
  // values that live elsewhere (a backend's own statistics). `collect` runs
  // under the registry's lock on the rendering thread: it must be quick and
  // must not call back into the registry. Collected until the returned
  // handle is destroyed; the registry must outlive it.
  [[nodiscard]] std::shared_ptr<void> add_gauge_collector(const std::string& name, const std::string& help,
                                                          std::function<void(sample_list&)> collect);

  // Prometheus text exposition format 0.0.4.
  std::string render() const;

 private:
  enum class kind { counter, gauge, histogram };
  template <typename T>
  struct series_entry {
    std::string rendered_labels;
    std::shared_ptr<T> series;
    std::size_t holders{0};
  };
  struct family {
    std::string help;
    kind type;
    std::vector<series_entry<counter>> counters;
    std::vector<series_entry<gauge>> gauges;
    std::vector<series_entry<histogram>> histograms;
    bool empty() const { return counters.empty() && gauges.empty() && histograms.empty(); }
  };
  family& family_for(const std::string& name, const std::string& help, kind type);
  template <typename T, typename Make>
  std::shared_ptr<T> add(std::vector<series_entry<T>> family::*member, kind type, const std::string& name,
                         const std::string& help, const labels& series_labels, Make make);

  struct collected_family {
    std::string help;
    std::map<std::uint64_t, std::function<void(sample_list&)>> collectors;
  };

  mutable std::mutex mutex_;
  std::map<std::string, family> families_;              // guarded by mutex_
  std::map<std::string, collected_family> collected_;  // guarded by mutex_
  std::uint64_t next_collector_{0};                    // guarded by mutex_
};

// Every series one owner (a model version's metrics) created, removed from
// the registry together by remove_all() or the destructor. Updates through
// the references it handed out stay safe after the removal: the group still
// owns the series, they are only no longer rendered.
class series_group {
 public:
  explicit series_group(registry& owner) : registry_(owner) {}
  ~series_group() { remove_all(); }
  series_group(const series_group&) = delete;
  series_group& operator=(const series_group&) = delete;

  counter& make_counter(const std::string& name, const std::string& help, const labels& series_labels);
  gauge& make_gauge(const std::string& name, const std::string& help, const labels& series_labels);
  histogram& make_histogram(const std::string& name, const std::string& help, const labels& series_labels,
                            std::vector<double> upper_bounds);

  // Idempotent. Not concurrent with make_* on the same group.
  void remove_all();

 private:
  struct held {
    std::string name;
    std::shared_ptr<const void> series;
    bool registered;  // false once removed from the registry
  };
  registry& registry_;
  std::vector<held> held_;
};

}  // namespace surge::metrics
