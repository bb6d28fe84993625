#include "index/shard.h"

#include <fstream>
#include <random>

#include "gtest/gtest.h"
#include "support/test_env.h"

namespace photosearch {
namespace {

std::vector<float> UnitVectors(int n, int dim) {
  std::mt19937 rng(5);
  std::normal_distribution<float> normal;
  std::vector<float> v(static_cast<size_t>(n) * dim);
  for (int i = 0; i < n; ++i) {
    double norm = 0;
    for (int d = 0; d < dim; ++d) norm += std::pow(v[i * dim + d] = normal(rng), 2);
    for (int d = 0; d < dim; ++d) v[i * dim + d] /= static_cast<float>(std::sqrt(norm));
  }
  return v;
}

TEST(Ids, RoundTripAndCorruption) {
  std::vector<std::string> ids = {"a.jpg", "Fruit/Apple/x y.jpg", std::string("bin\0ary", 7)};
  std::string bytes = EncodeIds(ids);
  auto decoded = DecodeIds(bytes);
  ASSERT_TRUE(decoded.ok());
  EXPECT_EQ(*decoded, ids);
  EXPECT_EQ(DecodeIds("junk").status().code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(DecodeIds(bytes.substr(0, bytes.size() - 2)).status().code(),
            absl::StatusCode::kDataLoss);
  EXPECT_EQ(DecodeIds(bytes + "x").status().code(), absl::StatusCode::kDataLoss);
}

TEST(Shard, SaveOpenSearchByItemId) {
  const int dim = 32, n = 50;
  std::vector<float> vectors = UnitVectors(n, dim);
  std::vector<std::string> ids;
  for (int i = 0; i < n; ++i) ids.push_back("item-" + std::to_string(i));
  for (const char* text : {"faiss:Flat", "hnsw"}) {
    SCOPED_TRACE(text);
    IndexSpec spec = *ParseIndexSpec(text);
    auto shard = Shard::Create(spec, dim, n);
    ASSERT_TRUE(shard.ok());
    ASSERT_TRUE((*shard)->Add(ids, vectors).ok());
    testing::ScratchDir dir;
    ASSERT_TRUE((*shard)->Save(dir.path()).ok());
    auto opened = Shard::Open(dir.path(), spec, dim);
    ASSERT_TRUE(opened.ok()) << opened.status();
    EXPECT_EQ((*opened)->size(), n);
    auto hits = (*opened)->Search(vectors.data() + 17 * dim, 1, 3);
    ASSERT_TRUE(hits.ok());
    EXPECT_EQ((*hits)[0][0].item_id, "item-17");

    // ids.bin naming a different count than the index holds is refused.
    std::ofstream(dir / Shard::kIdsFile, std::ios::binary | std::ios::trunc)
        << EncodeIds({"only-one"});
    EXPECT_EQ(Shard::Open(dir.path(), spec, dim).status().code(), absl::StatusCode::kDataLoss);
  }
}

TEST(Shard, RefusesBadIdsAndSizes) {
  auto shard = Shard::Create(*ParseIndexSpec("faiss:Flat"), 4);
  ASSERT_TRUE(shard.ok());
  EXPECT_FALSE((*shard)->Add({"a"}, {1, 0, 0}).ok());                        // 3 floats for dim 4
  EXPECT_FALSE((*shard)->Add({""}, {1, 0, 0, 0}).ok());                      // empty id
  EXPECT_FALSE((*shard)->Add({std::string(5000, 'x')}, {1, 0, 0, 0}).ok());  // too long
  EXPECT_EQ((*shard)->size(), 0);
}

}  // namespace
}  // namespace photosearch
