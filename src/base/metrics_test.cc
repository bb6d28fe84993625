#include "base/metrics.h"

#include <thread>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace photosearch {
namespace {

using ::testing::HasSubstr;

TEST(Metrics, CounterRendersWithLabels) {
  MetricsRegistry registry;
  Counter* ok =
      registry.GetCounter("requests_total", "Requests", {{"route", "/v1/search"}, {"code", "200"}});
  ok->Increment();
  ok->Increment(2);
  EXPECT_EQ(ok, registry.GetCounter("requests_total", "Requests",
                                    {{"route", "/v1/search"}, {"code", "200"}}));
  std::string text = registry.RenderPrometheus();
  EXPECT_THAT(text, HasSubstr("# HELP requests_total Requests\n# TYPE requests_total counter\n"));
  EXPECT_THAT(text, HasSubstr("requests_total{route=\"/v1/search\",code=\"200\"} 3\n"));
}

TEST(Metrics, HistogramBucketsAreCumulative) {
  MetricsRegistry registry;
  Histogram* h =
      registry.GetHistogram("latency_seconds", "Latency", {{"stage", "embed"}}, {0.01, 0.1, 1});
  h->Observe(0.005);
  h->Observe(0.05);
  h->Observe(0.05);
  h->Observe(5);
  EXPECT_EQ(h->CumulativeCount(0), 1u);
  EXPECT_EQ(h->CumulativeCount(1), 3u);
  EXPECT_EQ(h->CumulativeCount(2), 3u);
  EXPECT_EQ(h->CumulativeCount(3), 4u);
  std::string text = registry.RenderPrometheus();
  EXPECT_THAT(text, HasSubstr("latency_seconds_bucket{stage=\"embed\",le=\"0.01\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("latency_seconds_bucket{stage=\"embed\",le=\"0.1\"} 3\n"));
  EXPECT_THAT(text, HasSubstr("latency_seconds_bucket{stage=\"embed\",le=\"+Inf\"} 4\n"));
  EXPECT_THAT(text, HasSubstr("latency_seconds_sum{stage=\"embed\"} 5.105\n"));
  EXPECT_THAT(text, HasSubstr("latency_seconds_count{stage=\"embed\"} 4\n"));
}

TEST(Metrics, LabelValuesAreEscaped) {
  MetricsRegistry registry;
  registry.GetCounter("c_total", "c", {{"path", "a\"b\\c\nd"}})->Increment();
  EXPECT_THAT(registry.RenderPrometheus(), HasSubstr("c_total{path=\"a\\\"b\\\\c\\nd\"} 1\n"));
}

TEST(Metrics, ConcurrentUpdatesAreNotLost) {
  MetricsRegistry registry;
  Counter* c = registry.GetCounter("c_total", "c");
  Histogram* h = registry.GetHistogram("h_seconds", "h");
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 10000; ++i) {
        c->Increment();
        h->Observe(0.001);
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(c->Value(), 40000);
  EXPECT_EQ(h->Count(), 40000u);
  EXPECT_NEAR(h->Sum(), 40.0, 1e-6);
}

}  // namespace
}  // namespace photosearch
