#include "gateway/fanout.h"

#include <chrono>
#include <map>
#include <thread>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace photosearch {
namespace {

using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

// A replica on its own thread (as a gRPC callback would be) that answers each
// shard with one hit "<address>:<shard>" after `delay`, or fails.
class TestReplica : public Replica {
 public:
  TestReplica(std::string address, milliseconds delay, bool fail = false)
      : address_(std::move(address)), delay_(delay), fail_(fail) {}
  ~TestReplica() override {
    // The last reference may be dropped by a late callback on our own thread.
    for (auto& t : threads_) {
      if (t.get_id() == std::this_thread::get_id()) {
        t.detach();
      } else {
        t.join();
      }
    }
  }
  const std::string& address() const override { return address_; }

  std::function<void()> Start(const ShardQuery& query, const std::vector<ShardId>& shards,
                              Done done) override {
    ++calls;
    auto cancelled = std::make_shared<std::atomic<bool>>(false);
    threads_.emplace_back([this, shards, done, cancelled, nq = query.nq()] {
      const auto until = Clock::now() + delay_;
      while (Clock::now() < until && !cancelled->load()) std::this_thread::sleep_for(milliseconds(1));
      if (cancelled->load()) return done(absl::CancelledError("cancelled"));
      if (fail_) return done(absl::UnavailableError("connection refused"));
      std::vector<ShardHits> out;
      for (const ShardId& id : shards) {
        ShardHits h{id, id.Name() + "@v1", {}};
        for (int q = 0; q < nq; ++q) {
          h.per_query.push_back({{absl::StrCat(address_, ":", id.Name()), 0.5f + q, h.name}});
        }
        out.push_back(std::move(h));
      }
      done(std::move(out));
    });
    return [cancelled] { cancelled->store(true); };
  }

  std::atomic<int> calls{0};

 private:
  const std::string address_;
  const milliseconds delay_;
  const bool fail_;
  std::vector<std::thread> threads_;
};

ShardQuery Query(int nq, milliseconds deadline) {
  ShardQuery q;
  q.dimension = 2;
  q.vectors.assign(nq * 2, 0.7f);
  q.k = q.shard_k = 10;
  q.deadline = Clock::now() + deadline;
  return q;
}

ShardId Hour(int h) { return ShardId{absl::StrCat("hour/2026-11-22T", h < 10 ? "0" : "", h), 0, 1}; }

TEST(FanOut, EveryShardOnceAndOneCallPerReplica) {
  auto a = std::make_shared<TestReplica>("a", milliseconds(5));
  auto b = std::make_shared<TestReplica>("b", milliseconds(5));
  std::vector<ShardTarget> targets = {{Hour(1), {a}}, {Hour(2), {a}}, {Hour(3), {b}}};
  ShardAnswer answer = FanOut(targets, Query(2, milliseconds(2000)));
  EXPECT_EQ(answer.answered, 3);
  EXPECT_TRUE(answer.missing.empty());
  ASSERT_EQ(answer.per_query.size(), 2u);
  EXPECT_EQ(answer.per_query[0].size(), 3u);
  EXPECT_EQ(answer.per_query[1][0].score, 1.5f);
  EXPECT_EQ(a->calls.load(), 1);  // hours 1 and 2 in one call
  EXPECT_EQ(b->calls.load(), 1);
}

TEST(FanOut, AFailedCallIsRetriedOnceOnAnotherReplica) {
  auto down = std::make_shared<TestReplica>("down", milliseconds(1), /*fail=*/true);
  auto up = std::make_shared<TestReplica>("up", milliseconds(1));
  up->in_flight = 1;  // busier: the failing one is asked first
  ShardAnswer answer = FanOut({{Hour(1), {down, up}}}, Query(1, milliseconds(2000)));
  EXPECT_EQ(answer.answered, 1);
  EXPECT_TRUE(answer.missing.empty());
  EXPECT_EQ(answer.per_query[0][0].item_id, "up:" + Hour(1).Name());
  EXPECT_EQ(down->calls.load() + up->calls.load(), 2);

  auto down2 = std::make_shared<TestReplica>("down2", milliseconds(1), /*fail=*/true);
  ShardAnswer failed = FanOut({{Hour(1), {down, down2}}}, Query(1, milliseconds(2000)));
  EXPECT_EQ(failed.answered, 0);
  ASSERT_EQ(failed.missing.size(), 1u);
  EXPECT_NE(failed.first_error.find("connection refused"), std::string::npos) << failed.first_error;
}

TEST(FanOut, TheDeadlineEndsTheWaitAndNamesTheMissingShards) {
  auto fast = std::make_shared<TestReplica>("fast", milliseconds(1));
  auto slow = std::make_shared<TestReplica>("slow", milliseconds(3000));
  const auto start = Clock::now();
  ShardAnswer answer = FanOut({{Hour(1), {fast}}, {Hour(2), {slow}}}, Query(1, milliseconds(200)));
  const auto took = std::chrono::duration_cast<milliseconds>(Clock::now() - start);
  EXPECT_LT(took.count(), 1000);  // far under the slow replica's 3 s
  EXPECT_EQ(answer.answered, 1);
  ASSERT_EQ(answer.missing.size(), 1u);
  EXPECT_EQ(answer.missing[0], Hour(2));
  ASSERT_EQ(answer.per_query[0].size(), 1u);
}

TEST(FanOut, PrefersTheReplicaWithFewestRequestsInFlight) {
  auto busy = std::make_shared<TestReplica>("busy", milliseconds(1));
  auto idle = std::make_shared<TestReplica>("idle", milliseconds(1));
  busy->in_flight = 5;
  FanOut({{Hour(1), {busy, idle}}}, Query(1, milliseconds(2000)));
  EXPECT_EQ(idle->calls.load(), 1);
  EXPECT_EQ(busy->calls.load(), 0);
}

TEST(FanOut, AHungReplicaIsHedgedOnAnotherHalfwayToTheDeadline) {
  auto hung = std::make_shared<TestReplica>("hung", milliseconds(5000));
  auto ok = std::make_shared<TestReplica>("ok", milliseconds(1));
  ok->in_flight = 1;  // busier: the hung one is asked first
  const auto start = Clock::now();
  ShardAnswer answer = FanOut({{Hour(1), {hung, ok}}}, Query(1, milliseconds(400)));
  const auto took = std::chrono::duration_cast<milliseconds>(Clock::now() - start);
  EXPECT_EQ(answer.answered, 1);
  EXPECT_TRUE(answer.missing.empty());
  EXPECT_EQ(answer.per_query[0][0].item_id, "ok:" + Hour(1).Name());
  EXPECT_GE(took.count(), 190);  // not before halfway
  EXPECT_LT(took.count(), 390);
  EXPECT_EQ(hung->calls.load(), 1);
  EXPECT_EQ(ok->calls.load(), 1);
}

TEST(FanOut, EqualReplicasShareSequentialQueries) {
  auto a = std::make_shared<TestReplica>("a", milliseconds(0));
  auto b = std::make_shared<TestReplica>("b", milliseconds(0));
  for (int i = 0; i < 10; ++i) FanOut({{Hour(1), {a, b}}}, Query(1, milliseconds(1000)));
  EXPECT_EQ(a->calls.load() + b->calls.load(), 10);
  EXPECT_GE(a->calls.load(), 4);
  EXPECT_GE(b->calls.load(), 4);
}

TEST(FanOut, CallsCutByTheDeadlineCountAsFailed) {
  struct Counts : FanOutObserver {
    void OnCall(const std::string& address, double, bool ok) override {
      (ok ? good : bad)[address]++;
    }
    std::map<std::string, int> good, bad;
  } counts;
  auto slow = std::make_shared<TestReplica>("slow", milliseconds(3000));
  auto fast = std::make_shared<TestReplica>("fast", milliseconds(1));
  FanOut({{Hour(1), {fast}}, {Hour(2), {slow}}}, Query(1, milliseconds(100)), &counts);
  EXPECT_EQ(counts.good["fast"], 1);
  EXPECT_EQ(counts.bad["slow"], 1);
}

TEST(FanOut, MergesToOneHitPerItem) {
  // Two shards answering the same item (an overlap the planner avoids, but a
  // merge must still not return it twice).
  class Same : public Replica {
   public:
    const std::string& address() const override { return address_; }
    std::function<void()> Start(const ShardQuery&, const std::vector<ShardId>& shards,
                                Done done) override {
      std::vector<ShardHits> out;
      float score = 0.1f;
      for (const ShardId& id : shards) {
        out.push_back({id, id.Name(), {{{"item", score += 0.1f, id.Name()}}}});
      }
      done(std::move(out));
      return {};
    }
    std::string address_ = "same";
  };
  auto r = std::make_shared<Same>();
  ShardAnswer answer = FanOut({{Hour(1), {r}}, {Hour(2), {r}}}, Query(1, milliseconds(1000)));
  ASSERT_EQ(answer.per_query[0].size(), 1u);
  EXPECT_FLOAT_EQ(answer.per_query[0][0].score, 0.3f);
  EXPECT_EQ(answer.per_query[0][0].shard, Hour(2).Name());
}

}  // namespace
}  // namespace photosearch
