#include "gateway/merge.h"

#include "gtest/gtest.h"

namespace photosearch {
namespace {

TEST(MergeTopK, KeepsTheBestHitPerItemAcrossShards) {
  std::vector<std::vector<SearchResult>> per_shard = {
      {{"a", 0.9f, "s1"}, {"b", 0.5f, "s1"}, {"c", 0.4f, "s1"}},
      {{"b", 0.8f, "s2"}, {"d", 0.7f, "s2"}, {"a", 0.1f, "s2"}},
  };
  auto merged = MergeTopK(per_shard, 3);
  ASSERT_EQ(merged.size(), 3u);
  EXPECT_EQ(merged[0].item_id, "a");
  EXPECT_EQ(merged[1].item_id, "b");
  EXPECT_EQ(merged[1].shard, "s2");  // its better score came from s2
  EXPECT_EQ(merged[2].item_id, "d");
  EXPECT_EQ(MergeTopK(per_shard, 10).size(), 4u);
  EXPECT_TRUE(MergeTopK({}, 5).empty());
}

TEST(MergeTopK, TiesAreOrderedByItemId) {
  auto merged = MergeTopK({{{"z", 0.5f, ""}, {"m", 0.5f, ""}, {"a", 0.5f, ""}}}, 2);
  ASSERT_EQ(merged.size(), 2u);
  EXPECT_EQ(merged[0].item_id, "a");
  EXPECT_EQ(merged[1].item_id, "m");
}

}  // namespace
}  // namespace photosearch
