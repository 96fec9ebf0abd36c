#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace surge::metrics {

using labels = std::vector<std::pair<std::string, std::string>>;

// Series are created once (at model load) and then updated lock-free from any
// thread; only creation and rendering take the registry's lock.
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

class registry {
 public:
  counter& make_counter(const std::string& name, const std::string& help, const labels& series_labels);
  gauge& make_gauge(const std::string& name, const std::string& help, const labels& series_labels);
  histogram& make_histogram(const std::string& name, const std::string& help, const labels& series_labels,
                            std::vector<double> upper_bounds);

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
  struct family {
    std::string help;
    kind type;
    std::vector<std::pair<std::string, counter*>> counters;  // rendered label set -> series
    std::vector<std::pair<std::string, gauge*>> gauges;
    std::vector<std::pair<std::string, histogram*>> histograms;
  };
  family& family_for(const std::string& name, const std::string& help, kind type);
  struct collected_family {
    std::string help;
    std::map<std::uint64_t, std::function<void(sample_list&)>> collectors;
  };

  mutable std::mutex mutex_;
  std::map<std::string, family> families_;  // guarded by mutex_
  std::deque<counter> counter_storage_;     // guarded by mutex_; deque keeps addresses stable
  std::deque<gauge> gauge_storage_;
  std::deque<std::unique_ptr<histogram>> histogram_storage_;
  std::map<std::string, collected_family> collected_;  // guarded by mutex_
  std::uint64_t next_collector_{0};                    // guarded by mutex_
};

}  // namespace surge::metrics
