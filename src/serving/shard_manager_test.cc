#include "serving/shard_manager.h"

#include <filesystem>

#include "base/files.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "support/test_env.h"

namespace photosearch {
namespace {

using ::testing::HasSubstr;

constexpr int kDim = 4;

class ShardManagerTest : public ::testing::Test {
 protected:
  ShardManagerTest() : repo_(NewLocalStore(root_.path())) {}

  // Publishes a Flat shard holding `ids`, item i at the i-th unit axis (mod kDim).
  int64_t Publish(const std::vector<std::string>& ids, int dim = kDim) {
    return PublishAt(key_, ids, dim);
  }
  int64_t PublishAt(const ArtifactKey& key, const std::vector<std::string>& ids, int dim = kDim) {
    auto shard = Shard::Create(*ParseIndexSpec("faiss:Flat"), dim);
    std::vector<float> vectors(ids.size() * dim, 0.f);
    for (size_t i = 0; i < ids.size(); ++i) vectors[i * dim + i % dim] = 1.f;
    EXPECT_TRUE((*shard)->Add(ids, vectors).ok());
    testing::ScratchDir build;
    EXPECT_TRUE((*shard)->Save(build.path()).ok());
    ArtifactManifest m;
    m.dimension = dim;
    m.index = "faiss:Flat";
    m.item_count = static_cast<int64_t>(ids.size());
    auto published = repo_.Publish(key, m, {build / "index.faiss", build / "ids.bin"});
    EXPECT_TRUE(published.ok()) << published.status();
    return published->version;
  }

  std::string VersionDir(int64_t v) {
    return root_ / ("shards/m@1/all/part-0-of-1/" + std::to_string(v));
  }

  testing::ScratchDir root_;
  testing::ScratchDir scratch_;
  Repository repo_;
  ArtifactKey key_{"shard", "m@1", "all", 0, 1};
};

TEST_F(ShardManagerTest, SwapsVersionsWhileOldHandlesStayUsable) {
  ShardManager manager(&repo_, "m@1", kDim, scratch_.path());
  ASSERT_TRUE(manager.Refresh().ok());
  EXPECT_TRUE(manager.Snapshot().empty());

  Publish({"a", "b"});
  ASSERT_TRUE(manager.Refresh().ok());
  auto v1 = manager.Snapshot();
  ASSERT_EQ(v1.size(), 1u);
  EXPECT_EQ(v1[0]->manifest.version, 1);
  EXPECT_EQ(v1[0]->name(), "all/part-0-of-1@v1");

  Publish({"a", "b", "c"});
  ASSERT_TRUE(manager.Refresh().ok());
  auto v2 = manager.Snapshot();
  EXPECT_EQ(v2[0]->manifest.version, 2);
  EXPECT_EQ(v2[0]->shard->size(), 3);
  // A request that took v1 before the swap still searches it.
  float q[kDim] = {0, 1, 0, 0};
  auto hits = v1[0]->shard->Search(q, 1, 1);
  ASSERT_TRUE(hits.ok());
  EXPECT_EQ((*hits)[0][0].item_id, "b");
  EXPECT_EQ(v1[0]->shard->size(), 2);
}

TEST_F(ShardManagerTest, ACorruptVersionIsRefusedAndTheServedOneStays) {
  ShardManager manager(&repo_, "m@1", kDim, scratch_.path());
  Publish({"a"});
  ASSERT_TRUE(manager.Refresh().ok());
  int64_t bad = Publish({"a", "b"});
  ASSERT_TRUE(WriteFileAtomic(VersionDir(bad) + "/index.faiss", "garbage").ok());
  absl::Status status = manager.Refresh();
  EXPECT_EQ(status.code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(std::string(status.message()), HasSubstr("index.faiss"));
  ASSERT_EQ(manager.Snapshot().size(), 1u);
  EXPECT_EQ(manager.Snapshot()[0]->manifest.version, 1);
  ASSERT_EQ(manager.LastErrors().size(), 1u);
  EXPECT_THAT(manager.LastErrors()[0], HasSubstr("/2"));

  Publish({"a", "b", "c"});  // the next good version is taken
  manager.Refresh().IgnoreError();
  EXPECT_EQ(manager.Snapshot()[0]->manifest.version, 3);
}

TEST_F(ShardManagerTest, AtStartFallsBackToTheNewestGoodVersion) {
  Publish({"a"});
  int64_t bad = Publish({"a", "b"});
  std::filesystem::remove(VersionDir(bad) + "/ids.bin");
  ShardManager manager(&repo_, "m@1", kDim, scratch_.path());
  EXPECT_FALSE(manager.Refresh().ok());
  ASSERT_EQ(manager.Snapshot().size(), 1u);
  EXPECT_EQ(manager.Snapshot()[0]->manifest.version, 1);
}

TEST_F(ShardManagerTest, RefusesAShardOfAnotherDimension) {
  Publish({"a"}, /*dim=*/8);
  ShardManager manager(&repo_, "m@1", kDim, scratch_.path());
  absl::Status status = manager.Refresh();
  EXPECT_FALSE(status.ok());
  EXPECT_THAT(std::string(status.message()), HasSubstr("dimension 8"));
  EXPECT_TRUE(manager.Snapshot().empty());
}

TEST_F(ShardManagerTest, PollingPicksUpNewVersions) {
  ShardManager manager(&repo_, "m@1", kDim, scratch_.path());
  manager.StartPolling(50);
  Publish({"a"});
  for (int i = 0; i < 200 && manager.Snapshot().empty(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ASSERT_EQ(manager.Snapshot().size(), 1u);
}

TEST(ShardSelection, GlobsPartitionsAndRetention) {
  const int64_t now = ParseTimeWindow("day/2026-11-30")->begin + 3600;
  auto key = [](const std::string& window, int p = 0, int n = 1) {
    return ArtifactKey{"shard", "m@1", window, p, n};
  };
  ShardSelection all;
  EXPECT_TRUE(all.Selects(key("all"), now));
  EXPECT_TRUE(all.Selects(key("hour/2020-01-01T00"), now));
  ShardSelection hours{{"hour/*", "day/2026-11-*"}};
  EXPECT_TRUE(hours.Selects(key("hour/2026-11-29T05"), now));
  EXPECT_TRUE(hours.Selects(key("day/2026-11-02"), now));
  EXPECT_FALSE(hours.Selects(key("day/2026-10-02"), now));
  EXPECT_FALSE(hours.Selects(key("month/2026-11"), now));
  EXPECT_FALSE(hours.Selects(key("all"), now));
  ShardSelection part;
  part.partition = Partition{1, 4};
  EXPECT_TRUE(part.Selects(key("day/2026-11-02", 1, 4), now));
  EXPECT_FALSE(part.Selects(key("day/2026-11-02", 0, 4), now));
  EXPECT_FALSE(part.Selects(key("day/2026-11-02", 1, 2), now));
  EXPECT_FALSE(part.Selects(key("all"), now));
  ShardSelection recent;
  recent.retention_seconds = 48 * 3600;
  EXPECT_TRUE(recent.Selects(key("day/2026-11-28"), now));   // ended 25 h ago
  EXPECT_FALSE(recent.Selects(key("day/2026-11-27"), now));  // ended 49 h ago
  EXPECT_TRUE(recent.Selects(key("month/2026-11"), now));    // not ended
  EXPECT_TRUE(recent.Selects(key("all"), now));              // undated: kept
  EXPECT_EQ(*ParseDurationSeconds("48h"), 48 * 3600);
  EXPECT_EQ(*ParseDurationSeconds("30d"), 30 * 86400);
  EXPECT_EQ(*ParseDurationSeconds("90"), 90);
  for (const char* bad : {"", "h", "-1h", "1w", "1.5h", "99999999h"}) {
    EXPECT_FALSE(ParseDurationSeconds(bad).ok()) << bad;
  }
}

TEST_F(ShardManagerTest, LoadsOnlyTheSelectionAndUnloadsWhatLeavesIt) {
  PublishAt(ArtifactKey{"shard", "m@1", "hour/2026-11-02T05", 0, 1}, {"h"});
  PublishAt(ArtifactKey{"shard", "m@1", "day/2026-11-02", 0, 2}, {"d0"});
  PublishAt(ArtifactKey{"shard", "m@1", "day/2026-11-02", 1, 2}, {"d1"});
  ShardSelection selection;
  selection.windows = {"day/*"};
  selection.partition = Partition{1, 2};
  ShardManager manager(&repo_, "m@1", kDim, scratch_.path(), selection);
  ASSERT_TRUE(manager.Refresh().ok());
  ASSERT_EQ(manager.View()->size(), 1u);
  EXPECT_EQ(manager.View()->begin()->first, "day/2026-11-02/part-1-of-2");
  EXPECT_EQ(manager.View()->begin()->second->bytes > 0, true);
}

TEST_F(ShardManagerTest, AShardOverTheMemoryBudgetIsRefusedAndTheRestServe) {
  PublishAt(ArtifactKey{"shard", "m@1", "hour/2026-11-02T05", 0, 1}, {"a"});
  ShardManager sizer(&repo_, "m@1", kDim, scratch_.path());
  ASSERT_TRUE(sizer.Refresh().ok());
  const int64_t one = sizer.View()->begin()->second->bytes;
  PublishAt(ArtifactKey{"shard", "m@1", "hour/2026-11-02T06", 0, 1}, {"b"});
  ShardSelection budget;
  budget.max_memory_bytes = one + one / 2;  // room for one of the two
  ShardManager manager(&repo_, "m@1", kDim, scratch_.path(), budget);
  absl::Status status = manager.Refresh();
  EXPECT_EQ(status.code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(std::string(status.message()), HasSubstr("hour/2026-11-02T06"));
  EXPECT_THAT(std::string(status.message()), HasSubstr("--max-memory"));
  ASSERT_EQ(manager.View()->size(), 1u);
  EXPECT_EQ(manager.View()->begin()->first, "hour/2026-11-02T05/part-0-of-1");
}

TEST_F(ShardManagerTest, RefusesAShardOfAnotherModel) {
  PublishAt(ArtifactKey{"shard", "m@1", "all", 0, 1}, {"a"});
  // The manifest names m@1 under the key of another model (a copied folder).
  std::filesystem::create_directories(root_ / "shards/m@2/all/part-0-of-1");
  std::filesystem::copy(root_ / "shards/m@1/all/part-0-of-1/1", root_ / "shards/m@2/all/part-0-of-1/1");
  ShardManager manager(&repo_, "m@2", kDim, scratch_.path());
  EXPECT_FALSE(manager.Refresh().ok());
  EXPECT_TRUE(manager.View()->empty());
}

}  // namespace
}  // namespace photosearch

namespace photosearch {
namespace {

// Tombstones written to the repository hide items in every served shard, in
// versions loaded later too, by listing time; k still come back.
TEST_F(ShardManagerTest, TombstonesHideItemsInServedAndLaterVersions) {
  TombstoneFeed feed(&repo_.store());
  ShardManager manager(&repo_, "m@1", kDim, scratch_.path());
  manager.UseTombstones(&feed);
  Publish({"a", "b", "c", "d"});
  ASSERT_TRUE(manager.Refresh().ok());
  float query[kDim] = {1, 0, 0, 0};
  auto search = [&](int k) {
    std::vector<std::string> ids;
    auto hits = manager.Snapshot()[0]->Search(query, 1, k, {});
    EXPECT_TRUE(hits.ok());
    for (const Hit& h : (*hits)[0]) ids.push_back(h.item_id);
    return ids;
  };
  EXPECT_EQ(search(1), std::vector<std::string>{"a"});
  TombstoneLog writer(&repo_.store());
  ASSERT_TRUE(writer.Append({{"a", 0}}).ok());
  ASSERT_TRUE(feed.Refresh().ok());  // the poller's work, here by hand
  // "a" is gone, and still 3 come back.
  EXPECT_THAT(search(3), ::testing::UnorderedElementsAre("b", "c", "d"));
  EXPECT_EQ(manager.Snapshot()[0]->deleted.load()->count(), 1);
  // A new version is served with the tombstones already applied.
  Publish({"a", "b", "c", "d", "e"});
  ASSERT_TRUE(manager.Refresh().ok());
  EXPECT_EQ(manager.Snapshot()[0]->manifest.version, 2);
  EXPECT_EQ(search(5).size(), 4u);
  EXPECT_THAT(search(5), ::testing::Not(::testing::Contains("a")));
}

TEST(LiveShard, PutsRepeatsReplacesDeletesAndDrops) {
  auto live = LiveShard::Create(kDim);
  ASSERT_TRUE(live.ok());
  LiveShard& shard = **live;
  std::vector<float> x = {1, 0, 0, 0}, y = {0, 1, 0, 0};
  LiveListing a{"a", 100, 1000, "file:///a.jpg", "1-0"};
  EXPECT_EQ(shard.Put(a, {x}, nullptr).value(), LiveShard::PutResult::kAdded);
  EXPECT_EQ(shard.Put(a, {x}, nullptr).value(), LiveShard::PutResult::kUnchanged);
  LiveListing older = a;
  older.listed_at = 50;
  EXPECT_EQ(shard.Put(older, {y}, nullptr).value(), LiveShard::PutResult::kOlder);
  LiveListing newer = a;
  newer.listed_at = 200;
  newer.image_url = "file:///a2.jpg";
  EXPECT_EQ(shard.Check(newer, nullptr), LiveShard::PutResult::kReplaced);
  EXPECT_EQ(shard.Put(newer, {y}, nullptr).value(), LiveShard::PutResult::kReplaced);
  EXPECT_EQ(shard.items(), 1u);
  EXPECT_EQ(shard.vectors(), 1);
  auto hits = shard.Search(y.data(), 1, 5);
  ASSERT_TRUE(hits.ok());
  ASSERT_EQ((*hits)[0].size(), 1u);
  EXPECT_EQ((*hits)[0][0].item_id, "a");
  EXPECT_GT((*hits)[0][0].score, 0.99f);
  // Several vectors, one hit per item.
  LiveListing b{"b", 100, 1001, "file:///b.jpg", "1-1"};
  ASSERT_TRUE(shard.Put(b, {x, y}, nullptr).ok());
  hits = shard.Search(y.data(), 1, 5);
  EXPECT_EQ((*hits)[0].size(), 2u);
  // A delete older than the listing does not hide it; a later one does.
  EXPECT_FALSE(shard.Delete("a", 150));
  EXPECT_TRUE(shard.Delete("a", 200));
  EXPECT_EQ(shard.items(), 1u);
  // Tombstones hide listings they cover and keep them from coming back.
  TombstoneSet set;
  set.Add({{"b", 100}, {"c", 500}});
  shard.ApplyTombstones(set);
  EXPECT_EQ(shard.items(), 0u);
  LiveListing c{"c", 400, 1002, "file:///c.jpg", "1-2"};
  EXPECT_EQ(shard.Put(c, {x}, &set).value(), LiveShard::PutResult::kDeleted);
  c.listed_at = 600;  // listed again after the delete
  EXPECT_EQ(shard.Put(c, {x}, &set).value(), LiveShard::PutResult::kAdded);
  // Handover drops what a batch shard took over.
  LiveListing d{"d", 700, 1003, "file:///d.jpg", "1-3"};
  ASSERT_TRUE(shard.Put(d, {y}, &set).ok());
  auto dropped = shard.Drop([](const LiveListing& l) { return l.item_id == "c"; });
  ASSERT_EQ(dropped.size(), 1u);
  EXPECT_EQ(dropped[0].item_id, "c");
  hits = shard.Search(x.data(), 1, 5);
  ASSERT_EQ((*hits)[0].size(), 1u);
  EXPECT_EQ((*hits)[0][0].item_id, "d");
  EXPECT_FALSE(shard.Put(d, {}, nullptr).ok());
  EXPECT_FALSE(shard.Put(d, {{1, 2}}, nullptr).ok());
}

TEST(LiveShard, CompactsWhenMostListingsAreGone) {
  LiveIndexOptions options;
  options.segment_capacity = 256;
  auto live = LiveShard::Create(kDim, options);
  ASSERT_TRUE(live.ok());
  std::vector<float> v = {0.5f, 0.5f, 0.5f, 0.5f};
  for (int i = 0; i < 2000; ++i) {
    LiveListing l{"i" + std::to_string(i), i, i, "u", ""};
    ASSERT_TRUE((*live)->Put(l, {v}, nullptr).ok());
  }
  // Keep every 10th: the old segments are moved and freed, nothing is lost.
  auto dropped = (*live)->Drop([](const LiveListing& l) { return l.listed_at % 10 != 0; });
  EXPECT_EQ(dropped.size(), 1800u);
  EXPECT_EQ((*live)->items(), 200u);
  EXPECT_EQ((*live)->vectors(), 200);
  auto hits = (*live)->Search(v.data(), 1, 1000);
  ASSERT_TRUE(hits.ok());
  EXPECT_EQ((*hits)[0].size(), 200u);
  std::vector<std::vector<float>> vectors;
  EXPECT_TRUE((*live)->Vectors("i1990", &vectors));
  EXPECT_FALSE((*live)->Vectors("i1991", &vectors));
}

}  // namespace
}  // namespace photosearch
