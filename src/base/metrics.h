// Counters and histograms rendered in the Prometheus text exposition format.
//
//   MetricsRegistry registry;
//   Counter* requests = registry.GetCounter("photosearch_http_requests_total",
//       "HTTP requests by route and status", {{"route", "/v1/search"}, {"code", "200"}});
//   requests->Increment();
//   std::string text = registry.RenderPrometheus();
//
// Thread-safety: every method is thread-safe. Get* takes a mutex (look a metric up
// once and keep the pointer on hot paths); Increment/Observe are lock-free.
// Ownership: the registry owns its metrics; pointers stay valid for its lifetime.
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"

namespace photosearch {

using MetricLabels = std::vector<std::pair<std::string, std::string>>;

class Counter {
 public:
  void Increment(double by = 1.0);
  double Value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0.0};
};

// A value that goes up and down (items held, bytes used).
class Gauge {
 public:
  void Set(double value) { value_.store(value, std::memory_order_relaxed); }
  double Value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0.0};
};

class Histogram {
 public:
  // REQUIRES: `upper_bounds` sorted ascending; +Inf is implicit.
  explicit Histogram(std::vector<double> upper_bounds);
  void Observe(double value);

  const std::vector<double>& upper_bounds() const { return upper_bounds_; }
  // Cumulative count of observations <= upper_bounds()[i]; i == size() is +Inf.
  uint64_t CumulativeCount(size_t i) const;
  uint64_t Count() const { return count_.load(std::memory_order_relaxed); }
  double Sum() const { return sum_.load(std::memory_order_relaxed); }

 private:
  // Constant after construction.
  const std::vector<double> upper_bounds_;
  // Non-cumulative per-bucket counts, one more than upper_bounds_ (+Inf last).
  std::unique_ptr<std::atomic<uint64_t>[]> buckets_;
  std::atomic<uint64_t> count_{0};
  std::atomic<double> sum_{0.0};
};

// Latency buckets in seconds, from 0.5 ms to 10 s.
std::vector<double> LatencyBucketsSeconds();

class MetricsRegistry {
 public:
  MetricsRegistry() = default;
  MetricsRegistry(const MetricsRegistry&) = delete;
  MetricsRegistry& operator=(const MetricsRegistry&) = delete;

  // Returns the counter of family `name` with these labels, creating it on first
  // use. REQUIRES: `name` is a valid Prometheus metric name and is not already a
  // histogram.
  Counter* GetCounter(const std::string& name, const std::string& help,
                      const MetricLabels& labels = {});
  // The same for a gauge. REQUIRES: `name` is not a counter or histogram.
  Gauge* GetGauge(const std::string& name, const std::string& help,
                  const MetricLabels& labels = {});
  Histogram* GetHistogram(const std::string& name, const std::string& help,
                          const MetricLabels& labels = {},
                          const std::vector<double>& upper_bounds = LatencyBucketsSeconds());

  std::string RenderPrometheus() const;

 private:
  struct Family {
    std::string help;
    bool is_histogram = false;
    bool is_gauge = false;
    std::map<std::string, std::unique_ptr<Counter>> counters;      // by rendered labels
    std::map<std::string, std::unique_ptr<Gauge>> gauges;          // by rendered labels
    std::map<std::string, std::unique_ptr<Histogram>> histograms;  // by rendered labels
  };

  mutable std::mutex mu_;
  std::map<std::string, Family> families_ ABSL_GUARDED_BY(mu_);
};

}  // namespace photosearch
