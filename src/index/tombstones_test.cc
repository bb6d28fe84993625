#include "index/tombstones.h"

#include <algorithm>
#include <set>
#include <thread>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "index/live_index.h"
#include "index/test_vectors.h"
#include "support/test_env.h"

namespace photosearch {
namespace {

constexpr int kDim = 32;

std::vector<std::string> Ids(int n) {
  std::vector<std::string> ids;
  for (int i = 0; i < n; ++i) ids.push_back(absl::StrCat("item-", i));
  return ids;
}

// Exact top-k labels not in `exclude`, by brute force.
std::vector<int64_t> BruteForce(const std::vector<float>& data, const float* query, int k,
                                const LabelSet& exclude) {
  const int64_t n = static_cast<int64_t>(data.size() / kDim);
  std::vector<std::pair<float, int64_t>> scored;
  for (int64_t i = 0; i < n; ++i) {
    if (exclude.contains(i)) continue;
    float s = 0;
    for (int d = 0; d < kDim; ++d) s += data[i * kDim + d] * query[d];
    scored.emplace_back(-s, i);
  }
  std::sort(scored.begin(), scored.end());
  std::vector<int64_t> out;
  for (int i = 0; i < k && i < static_cast<int>(scored.size()); ++i) out.push_back(scored[i].second);
  return out;
}

TEST(LabelSet, InsertContainsCount) {
  LabelSet set(130);
  EXPECT_TRUE(set.empty());
  EXPECT_TRUE(set.insert(0));
  EXPECT_TRUE(set.insert(129));
  EXPECT_FALSE(set.insert(129));
  EXPECT_FALSE(set.insert(130));  // outside the universe
  EXPECT_FALSE(set.insert(-1));
  EXPECT_TRUE(set.contains(0));
  EXPECT_TRUE(set.contains(129));
  EXPECT_FALSE(set.contains(64));
  EXPECT_FALSE(set.contains(1000));
  EXPECT_EQ(set.count(), 2);
}

// Every index kind skips excluded labels and still answers k of the others:
// exact and HNSW inside the walk, IVF (and re-ranking) by fetching more.
class FilteredSearch : public ::testing::TestWithParam<std::string> {};

TEST_P(FilteredSearch, ExcludedLabelsNeverComeBackAndKStillDoes) {
  const int n = 3000, k = 10;
  std::vector<float> data = Clustered(n, kDim, 20, 7);
  auto spec = ParseIndexSpec(GetParam());
  ASSERT_TRUE(spec.ok()) << spec.status();
  auto index = CreateIndex(*spec, kDim, n);
  ASSERT_TRUE(index.ok()) << index.status();
  ASSERT_TRUE((*index)->Add(data.data(), n).ok());
  for (double fraction : {0.01, 0.1, 0.5}) {
    LabelSet exclude(n);
    std::mt19937 rng(11);
    while (exclude.count() < static_cast<int64_t>(fraction * n)) exclude.insert(rng() % n);
    SearchParams params;
    params.exclude = &exclude;
    params.ef_search = 128;
    params.nprobe = 64;
    const int nq = 50;
    auto hits = (*index)->Search(data.data(), nq, k, params);  // the first 50 items as queries
    ASSERT_TRUE(hits.ok()) << hits.status();
    double found = 0;
    for (int q = 0; q < nq; ++q) {
      ASSERT_EQ((*hits)[q].size(), static_cast<size_t>(k)) << GetParam() << " at " << fraction;
      std::set<int64_t> truth;
      for (int64_t l : BruteForce(data, data.data() + q * kDim, k, exclude)) truth.insert(l);
      for (const Neighbor& hit : (*hits)[q]) {
        EXPECT_FALSE(exclude.contains(hit.label)) << GetParam() << " returned excluded " << hit.label;
        found += truth.count(hit.label);
      }
    }
    // Approximate indexes keep their recall under the filter.
    EXPECT_GE(found / (nq * k), spec->exact() ? 0.999 : 0.8) << GetParam() << " at " << fraction;
  }
}

INSTANTIATE_TEST_SUITE_P(Kinds, FilteredSearch,
                         ::testing::Values("faiss:Flat", "hnsw:M=16,ef_construction=100",
                                           "faiss:IVF16,Flat", "faiss:IVF16,SQ8,RFlat"));

TEST(FilteredSearch, ExactBlasPathFiltersToo) {
  // 20 or more queries at once go through FAISS's BLAS path, not FlatTopK.
  const int n = 500;
  std::vector<float> data = Clustered(n, kDim, 5, 3);
  auto index = CreateIndex(*ParseIndexSpec("faiss:Flat"), kDim);
  ASSERT_TRUE((*index)->Add(data.data(), n).ok());
  LabelSet exclude(n);
  for (int i = 0; i < n; i += 2) exclude.insert(i);
  SearchParams params;
  params.exclude = &exclude;
  auto hits = (*index)->Search(data.data(), 40, 5, params);
  ASSERT_TRUE(hits.ok());
  for (int q = 0; q < 40; ++q) {
    ASSERT_EQ((*hits)[q].size(), 5u);
    for (const Neighbor& hit : (*hits)[q]) EXPECT_EQ(hit.label % 2, 1);
    EXPECT_EQ((*hits)[q][0].label, BruteForce(data, data.data() + q * kDim, 1, exclude)[0]);
  }
}

TEST(TombstoneSet, LatestDeleteWinsInAnyOrderAndTwice) {
  TombstoneSet a, b;
  std::vector<Tombstone> first = {{"x", 100}, {"y", 50}}, second = {{"x", 80}, {"x", 120}};
  EXPECT_EQ(a.Add(first), 2);
  EXPECT_EQ(a.Add(second), 1);  // only x@120 changes anything
  EXPECT_EQ(a.Add(second), 0);  // again: nothing
  b.Add(second);
  b.Add(first);
  EXPECT_EQ(a.All(), b.All());
  int64_t at = 0;
  ASSERT_TRUE(a.DeletedAt("x", &at));
  EXPECT_EQ(at, 120);
  // A delete hides listings at or before it, not after.
  EXPECT_TRUE(a.Hides("x", 120));
  EXPECT_TRUE(a.Hides("x", 10));
  EXPECT_FALSE(a.Hides("x", 121));
  EXPECT_FALSE(a.Hides("z", 0));
  // Changes come in order, each with the item's latest time.
  EXPECT_EQ(a.changes(), 3u);
  std::vector<Tombstone> since = a.Since(2);
  ASSERT_EQ(since.size(), 1u);
  EXPECT_EQ(since[0], (Tombstone{"x", 120}));
}

TEST(DeletedLabels, ByListingTimeWithSeveralVectorsPerItem) {
  auto shard = Shard::Create(*ParseIndexSpec("faiss:Flat"), kDim);
  std::vector<std::string> ids = {"a", "b", "b", "c", "d"};
  std::vector<float> data = Clustered(5, kDim, 2, 1);
  std::vector<int64_t> listed = {100, 200, 200, 300, 400};
  ASSERT_TRUE((*shard)->Add(ids, data, listed).ok());
  std::vector<int64_t> labels;
  (*shard)->LabelsOf("b", &labels);
  EXPECT_THAT(labels, ::testing::ElementsAre(1, 2));
  TombstoneSet set;
  set.Add({{"a", 99}, {"b", 200}, {"c", 1000}, {"zz", 5}});
  for (const LabelSet& hidden :
       {DeletedLabels(**shard, set, 0), DeletedLabels(**shard, set.All(), 0)}) {
    EXPECT_FALSE(hidden.contains(0));  // deleted before it was listed
    EXPECT_TRUE(hidden.contains(1));   // both vectors of b
    EXPECT_TRUE(hidden.contains(2));
    EXPECT_TRUE(hidden.contains(3));
    EXPECT_FALSE(hidden.contains(4));
    EXPECT_EQ(hidden.count(), 3);
  }
  // The search leaves them out and answers the rest.
  SearchParams params;
  LabelSet hidden = DeletedLabels(**shard, set, 0);
  params.exclude = &hidden;
  auto hits = (*shard)->Search(data.data() + 1 * kDim, 1, 5, params);
  ASSERT_TRUE(hits.ok());
  std::set<std::string> got;
  for (const Hit& h : (*hits)[0]) got.insert(h.item_id);
  EXPECT_EQ(got, (std::set<std::string>{"a", "d"}));
}

TEST(DeletedLabels, AShardWithoutTimesUsesTheFallback) {
  auto shard = Shard::Create(*ParseIndexSpec("faiss:Flat"), kDim);
  ASSERT_TRUE((*shard)->Add({"a", "b"}, Clustered(2, kDim, 1, 2)).ok());
  TombstoneSet set;
  set.Add({{"a", 10}, {"b", -5}});
  LabelSet dated = DeletedLabels(**shard, set, /*fallback_listed_at=*/0);
  EXPECT_TRUE(dated.contains(0));
  EXPECT_FALSE(dated.contains(1));
  LabelSet undated = DeletedLabels(**shard, set, kUnknownListingTime);
  EXPECT_EQ(undated.count(), 2);
}

TEST(Shard, KeepsListingTimesThroughSaveAndOpen) {
  auto shard = Shard::Create(*ParseIndexSpec("hnsw"), kDim);
  std::vector<float> data = Clustered(3, kDim, 1, 4);
  ASSERT_TRUE((*shard)->Add({"a", "b", "c"}, data, {7, 8, 9}).ok());
  EXPECT_FALSE((*shard)->Add({"d"}, Clustered(1, kDim, 1, 5)).ok());  // times for all or none
  testing::ScratchDir dir;
  auto files = (*shard)->Save(dir.path());
  ASSERT_TRUE(files.ok());
  EXPECT_EQ(files->size(), 3u);
  auto opened = Shard::Open(dir.path(), *ParseIndexSpec("hnsw"), kDim);
  ASSERT_TRUE(opened.ok()) << opened.status();
  EXPECT_EQ((*opened)->listed_at(), (std::vector<int64_t>{7, 8, 9}));
  EXPECT_EQ(DecodeTimes(EncodeTimes({1, -2, 3})).value(), (std::vector<int64_t>{1, -2, 3}));
  EXPECT_FALSE(DecodeTimes("PSTIME1\n\xff\xff\xff\xff\xff\xff\xff\xff").ok());
}

TEST(LiveIndex, GrowsSearchesRemovesAndFreesSegments) {
  LiveIndexOptions options;
  options.segment_capacity = 64;
  auto index = LiveIndex::Create(kDim, options);
  ASSERT_TRUE(index.ok()) << index.status();
  const int n = 300;
  std::vector<float> data = Clustered(n, kDim, 10, 9);
  std::vector<int64_t> labels;
  for (int i = 0; i < n; ++i) labels.push_back((*index)->Add(data.data() + i * kDim).value());
  EXPECT_EQ((*index)->size(), n);
  EXPECT_EQ((*index)->segments(), 5);
  // Each vector finds itself first.
  for (int i = 0; i < n; i += 17) {
    auto hits = (*index)->Search(data.data() + i * kDim, 1, 3);
    ASSERT_TRUE(hits.ok());
    ASSERT_FALSE((*hits)[0].empty());
    EXPECT_EQ((*hits)[0][0].label, labels[i]);
  }
  // Removing the first 128 empties two segments, which are freed.
  for (int i = 0; i < 128; ++i) EXPECT_TRUE((*index)->Remove(labels[i]));
  EXPECT_FALSE((*index)->Remove(labels[0]));
  EXPECT_EQ((*index)->DropEmptySegments(), 2);
  EXPECT_EQ((*index)->segments(), 3);
  EXPECT_FALSE((*index)->Contains(labels[0]));
  auto hits = (*index)->Search(data.data(), 1, 10);
  ASSERT_TRUE(hits.ok());
  for (const Neighbor& h : (*hits)[0]) EXPECT_GE(h.label, labels[128]);
  // A mostly empty segment offers its survivors to be moved.
  for (int i = 128; i < 190; ++i) (*index)->Remove(labels[i]);
  std::vector<int64_t> move = (*index)->LabelsToMove(0.25);
  EXPECT_THAT(move, ::testing::ElementsAre(labels[190], labels[191]));
  std::vector<float> v;
  ASSERT_TRUE((*index)->Vector(labels[190], &v));
  EXPECT_EQ(v, std::vector<float>(data.begin() + 190 * kDim, data.begin() + 191 * kDim));
}

TEST(LiveIndex, SearchesWhileOneThreadAddsAndRemoves) {
  LiveIndexOptions options;
  options.segment_capacity = 512;
  auto index = LiveIndex::Create(kDim, options);
  ASSERT_TRUE(index.ok());
  const int n = 3000;
  std::vector<float> data = Clustered(n, kDim, 30, 21);
  std::atomic<int> added{0};
  std::atomic<bool> bad{false};
  std::thread writer([&] {
    for (int i = 0; i < n; ++i) {
      absl::StatusOr<int64_t> label = (*index)->Add(data.data() + i * kDim);
      if (!label.ok() || *label != i) bad = true;
      if (i % 3 == 0 && i > 0) (*index)->Remove(i - 1);
      added.store(i + 1);
    }
  });
  int checked = 0;
  while (added.load() < n) {
    const int upto = added.load();
    if (upto < 10) continue;
    const int i = upto - 5;  // added a moment ago
    auto hits = (*index)->Search(data.data() + i * kDim, 1, 5);
    ASSERT_TRUE(hits.ok());
    for (const Neighbor& h : (*hits)[0]) {
      ASSERT_GE(h.label, 0);
      ASSERT_LT(h.label, n);
    }
    ++checked;
  }
  writer.join();
  EXPECT_FALSE(bad.load());
  EXPECT_GT(checked, 0);
  // Afterwards every live vector is found by itself, no removed one comes back.
  int self = 0, live = 0;
  for (int i = 0; i < n; i += 7) {
    auto hits = (*index)->Search(data.data() + i * kDim, 1, 5);
    ASSERT_TRUE(hits.ok());
    for (const Neighbor& h : (*hits)[0]) EXPECT_TRUE((*index)->Contains(h.label)) << h.label;
    if ((*index)->Contains(i)) {
      ++live;
      self += !(*hits)[0].empty() && (*hits)[0][0].label == i;
    }
  }
  EXPECT_GE(self, live * 0.95);
}

}  // namespace
}  // namespace photosearch
