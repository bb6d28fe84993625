#include "pipeline/dag.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <future>
#include <mutex>

namespace photosearch {
namespace {

using ::testing::HasSubstr;

TEST(CheckDagTest, NamesTheProblem) {
  EXPECT_TRUE(CheckDag({{"a", {}, nullptr}, {"b", {"a"}, nullptr}}).ok());
  EXPECT_THAT(CheckDag({{"a", {}, nullptr}, {"a", {}, nullptr}}).message(),
              HasSubstr("two steps are named 'a'"));
  EXPECT_THAT(CheckDag({{"a", {"x"}, nullptr}}).message(),
              HasSubstr("step 'a' needs 'x', which is not a step"));
  EXPECT_THAT(
      CheckDag({{"a", {"c"}, nullptr}, {"b", {"a"}, nullptr}, {"c", {"b"}, nullptr}}).message(),
      HasSubstr("cycle: a -> c -> b -> a"));
  EXPECT_THAT(CheckDag({{"a", {"a"}, nullptr}}).message(), HasSubstr("cycle: a -> a"));
}

TEST(RunDagTest, RunsInDependencyOrder) {
  std::mutex mu;
  std::vector<std::string> order;
  auto record = [&](const std::string& name) {
    return [&, name] {
      std::lock_guard<std::mutex> lock(mu);
      order.push_back(name);
      return absl::OkStatus();
    };
  };
  DagRun run = RunDag({{"publish", {"build", "features"}, record("publish")},
                       {"build", {"embed"}, record("build")},
                       {"features", {"embed"}, record("features")},
                       {"embed", {}, record("embed")}});
  ASSERT_TRUE(run.status.ok()) << run.status;
  ASSERT_EQ(order.size(), 4u);
  EXPECT_EQ(order.front(), "embed");
  EXPECT_EQ(order.back(), "publish");
  for (const DagStepResult& r : run.steps) EXPECT_EQ(r.state, "succeeded") << r.name;
}

// Two independent steps that each wait for the other to start can only both
// finish if they run at the same time.
TEST(RunDagTest, IndependentStepsRunInParallel) {
  std::promise<void> a_started, b_started;
  auto a_seen = b_started.get_future();
  auto b_seen = a_started.get_future();
  auto wait = [](std::future<void>& f) {
    return f.wait_for(std::chrono::seconds(10)) == std::future_status::ready
               ? absl::OkStatus()
               : absl::DeadlineExceededError("the other step never started");
  };
  DagRun run = RunDag({{"a",
                        {},
                        [&] {
                          a_started.set_value();
                          return wait(a_seen);
                        }},
                       {"b", {}, [&] {
                          b_started.set_value();
                          return wait(b_seen);
                        }}});
  EXPECT_TRUE(run.status.ok()) << run.status;
}

TEST(RunDagTest, FailureStopsWhatDependsOnIt) {
  bool after_ran = false;
  DagRun run = RunDag(
      {{"fetch", {}, [] { return absl::UnavailableError("s3 down"); }}, {"embed", {"fetch"}, [&] {
                                                                           after_ran = true;
                                                                           return absl::OkStatus();
                                                                         }}});
  EXPECT_EQ(run.status.code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(run.status.message(), "fetch: s3 down");
  EXPECT_FALSE(after_ran);
  EXPECT_EQ(run.steps[0].state, "failed");
  EXPECT_EQ(run.steps[1].state, "not run");
}

TEST(RunDagTest, CancelledStartsNothingMore) {
  std::atomic<bool> cancelled{false};
  bool second_ran = false;
  DagRun run = RunDag({{"first",
                        {},
                        [&] {
                          cancelled = true;
                          return absl::OkStatus();
                        }},
                       {"second",
                        {"first"},
                        [&] {
                          second_ran = true;
                          return absl::OkStatus();
                        }}},
                      &cancelled);
  EXPECT_TRUE(absl::IsCancelled(run.status)) << run.status;
  EXPECT_THAT(run.status.message(), HasSubstr("before step 'second'"));
  EXPECT_FALSE(second_ran);
  EXPECT_EQ(run.steps[0].state, "succeeded");
}

}  // namespace
}  // namespace photosearch
