#include "base/metrics.h"

#include <algorithm>
#include <charconv>
#include <cmath>

#include "absl/strings/str_cat.h"

namespace photosearch {
namespace {

std::string EscapeLabelValue(const std::string& value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

// `{a="x",b="y"}` (empty string for no labels); `extra` is appended last.
std::string RenderLabels(const MetricLabels& labels, const std::string& extra = "") {
  if (labels.empty() && extra.empty()) return "";
  std::string out = "{";
  for (size_t i = 0; i < labels.size(); ++i) {
    if (i) out += ",";
    absl::StrAppend(&out, labels[i].first, "=\"", EscapeLabelValue(labels[i].second), "\"");
  }
  if (!extra.empty()) {
    if (!labels.empty()) out += ",";
    out += extra;
  }
  out += "}";
  return out;
}

std::string FormatValue(double v) {
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  if (std::isnan(v)) return "NaN";
  char buffer[32];
  char* end = std::to_chars(buffer, buffer + sizeof(buffer), v).ptr;  // shortest round-trip form
  return std::string(buffer, end);
}

void AtomicAdd(std::atomic<double>& target, double by) {
  double current = target.load(std::memory_order_relaxed);
  while (!target.compare_exchange_weak(current, current + by, std::memory_order_relaxed)) {
  }
}

// Label sets are stored rendered without braces so the histogram can add `le`.
std::string LabelKey(const MetricLabels& labels) {
  std::string rendered = RenderLabels(labels);
  return rendered.empty() ? rendered : rendered.substr(1, rendered.size() - 2);
}

}  // namespace

void Counter::Increment(double by) { AtomicAdd(value_, by); }

Histogram::Histogram(std::vector<double> upper_bounds)
    : upper_bounds_(std::move(upper_bounds)),
      buckets_(new std::atomic<uint64_t>[upper_bounds_.size() + 1]) {
  for (size_t i = 0; i <= upper_bounds_.size(); ++i) buckets_[i].store(0);
}

void Histogram::Observe(double value) {
  size_t i = static_cast<size_t>(
      std::lower_bound(upper_bounds_.begin(), upper_bounds_.end(), value) - upper_bounds_.begin());
  buckets_[i].fetch_add(1, std::memory_order_relaxed);
  count_.fetch_add(1, std::memory_order_relaxed);
  AtomicAdd(sum_, value);
}

uint64_t Histogram::CumulativeCount(size_t i) const {
  uint64_t total = 0;
  for (size_t b = 0; b <= i && b <= upper_bounds_.size(); ++b) {
    total += buckets_[b].load(std::memory_order_relaxed);
  }
  return total;
}

std::vector<double> LatencyBucketsSeconds() {
  return {0.0005, 0.001, 0.002, 0.005, 0.01, 0.015, 0.02, 0.03, 0.05,
          0.075,  0.1,   0.2,   0.5,   1.0,  2.0,   5.0,  10.0};
}

Counter* MetricsRegistry::GetCounter(const std::string& name, const std::string& help,
                                     const MetricLabels& labels) {
  std::lock_guard<std::mutex> lock(mu_);
  Family& family = families_[name];
  family.help = help;
  auto& slot = family.counters[LabelKey(labels)];
  if (!slot) slot = std::make_unique<Counter>();
  return slot.get();
}

Gauge* MetricsRegistry::GetGauge(const std::string& name, const std::string& help,
                                 const MetricLabels& labels) {
  std::lock_guard<std::mutex> lock(mu_);
  Family& family = families_[name];
  family.help = help;
  family.is_gauge = true;
  auto& slot = family.gauges[LabelKey(labels)];
  if (!slot) slot = std::make_unique<Gauge>();
  return slot.get();
}

Histogram* MetricsRegistry::GetHistogram(const std::string& name, const std::string& help,
                                         const MetricLabels& labels,
                                         const std::vector<double>& upper_bounds) {
  std::lock_guard<std::mutex> lock(mu_);
  Family& family = families_[name];
  family.help = help;
  family.is_histogram = true;
  auto& slot = family.histograms[LabelKey(labels)];
  if (!slot) slot = std::make_unique<Histogram>(upper_bounds);
  return slot.get();
}

std::string MetricsRegistry::RenderPrometheus() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::string out;
  for (const auto& [name, family] : families_) {
    absl::StrAppend(&out, "# HELP ", name, " ", family.help, "\n");
    absl::StrAppend(&out, "# TYPE ", name,
                    family.is_histogram ? " histogram\n"
                    : family.is_gauge   ? " gauge\n"
                                        : " counter\n");
    for (const auto& [key, counter] : family.counters) {
      std::string labels = key.empty() ? "" : absl::StrCat("{", key, "}");
      absl::StrAppend(&out, name, labels, " ", FormatValue(counter->Value()), "\n");
    }
    for (const auto& [key, gauge] : family.gauges) {
      std::string labels = key.empty() ? "" : absl::StrCat("{", key, "}");
      absl::StrAppend(&out, name, labels, " ", FormatValue(gauge->Value()), "\n");
    }
    for (const auto& [key, histogram] : family.histograms) {
      const auto& bounds = histogram->upper_bounds();
      std::string prefix = key.empty() ? "" : key + ",";
      for (size_t i = 0; i <= bounds.size(); ++i) {
        double le = i < bounds.size() ? bounds[i] : INFINITY;
        absl::StrAppend(&out, name, "_bucket{", prefix, "le=\"", FormatValue(le), "\"} ",
                        histogram->CumulativeCount(i), "\n");
      }
      std::string labels = key.empty() ? "" : absl::StrCat("{", key, "}");
      absl::StrAppend(&out, name, "_sum", labels, " ", FormatValue(histogram->Sum()), "\n");
      // _count from the buckets, so that it always equals the +Inf bucket.
      absl::StrAppend(&out, name, "_count", labels, " ", histogram->CumulativeCount(bounds.size()),
                      "\n");
    }
  }
  return out;
}

}  // namespace photosearch
