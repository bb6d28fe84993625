#include "index/vector_index.h"

#include <algorithm>
#include <random>
#include <set>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "index/test_vectors.h"
#include "support/test_env.h"

namespace photosearch {
namespace {

double RecallAt(const std::vector<std::vector<Neighbor>>& got,
                const std::vector<std::vector<Neighbor>>& truth, int k) {
  double hits = 0;
  for (size_t q = 0; q < truth.size(); ++q) {
    std::set<int64_t> want;
    for (int i = 0; i < k && i < static_cast<int>(truth[q].size()); ++i)
      want.insert(truth[q][i].label);
    for (int i = 0; i < k && i < static_cast<int>(got[q].size()); ++i)
      hits += want.count(got[q][i].label);
  }
  return hits / (truth.size() * k);
}

TEST(IndexSpec, ParseAndPrint) {
  auto flat = ParseIndexSpec("faiss:Flat");
  ASSERT_TRUE(flat.ok());
  EXPECT_TRUE(flat->exact());
  EXPECT_EQ(flat->ToString(), "faiss:Flat");
  auto ivf = ParseIndexSpec("faiss:IVF1024,PQ32np");
  ASSERT_TRUE(ivf.ok());
  EXPECT_EQ(ivf->factory, "IVF1024,PQ32np");
  auto hnsw = ParseIndexSpec("hnsw:M=32,ef_search=128");
  ASSERT_TRUE(hnsw.ok());
  EXPECT_EQ(hnsw->hnsw_m, 32);
  EXPECT_EQ(hnsw->hnsw_ef_search, 128);
  EXPECT_EQ(hnsw->hnsw_ef_construction, 200);
  EXPECT_EQ(ParseIndexSpec(hnsw->ToString())->ToString(), hnsw->ToString());
  EXPECT_TRUE(ParseIndexSpec("hnsw").ok());
  for (const char* bad : {"", "annoy:x", "faiss:", "faiss:Flat;rm", "hnsw:M=1", "hnsw:M=abc",
                          "hnsw:depth=3", "hnsw:M"}) {
    EXPECT_EQ(ParseIndexSpec(bad).status().code(), absl::StatusCode::kInvalidArgument) << bad;
  }
}

TEST(IndexSpec, DefaultIsExactForSmallShards) {
  EXPECT_TRUE(ChooseIndexSpec(2485).exact());
  EXPECT_EQ(ChooseIndexSpec(100000).kind, IndexSpec::Kind::kHnsw);
}

class VectorIndexTest : public ::testing::TestWithParam<std::string> {};

TEST_P(VectorIndexTest, RecallSaveLoadAndEdges) {
  const int dim = 64, n = 4000, nq = 100, k = 10;
  std::vector<float> base = Clustered(n, dim, 40, 1);
  std::vector<float> queries = Clustered(nq, dim, 40, 2);
  auto exact = CreateIndex(*ParseIndexSpec("faiss:Flat"), dim);
  ASSERT_TRUE(exact.ok());
  ASSERT_TRUE((*exact)->Add(base.data(), n).ok());
  auto truth = (*exact)->Search(queries.data(), nq, k);
  ASSERT_TRUE(truth.ok());

  auto spec = ParseIndexSpec(GetParam());
  ASSERT_TRUE(spec.ok());
  auto index = CreateIndex(*spec, dim, n);
  ASSERT_TRUE(index.ok()) << index.status();
  // Added in two parts: labels continue.
  ASSERT_TRUE((*index)->Add(base.data(), n / 2).ok());
  ASSERT_TRUE((*index)->Add(base.data() + static_cast<size_t>(n / 2) * dim, n - n / 2).ok());
  EXPECT_EQ((*index)->size(), n);
  auto got = (*index)->Search(queries.data(), nq, k);
  ASSERT_TRUE(got.ok()) << got.status();
  double recall = RecallAt(*got, *truth, k);
  EXPECT_GE(recall, spec->exact() ? 1.0 : 0.9) << GetParam();
  for (const auto& hits : *got) {
    ASSERT_EQ(hits.size(), static_cast<size_t>(k));
    for (int i = 1; i < k; ++i) EXPECT_GE(hits[i - 1].score, hits[i].score);  // best first
  }
  // Each base vector finds itself with score ~1.
  auto self = (*index)->Search(base.data() + 7 * dim, 1, 1);
  ASSERT_TRUE(self.ok());
  EXPECT_EQ((*self)[0][0].label, 7);
  EXPECT_NEAR((*self)[0][0].score, 1.0, 1e-4);

  testing::ScratchDir dir;
  ASSERT_TRUE((*index)->Save(dir / "index").ok());
  auto loaded = LoadIndex(*spec, dim, dir / "index");
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  auto again = (*loaded)->Search(queries.data(), nq, k);
  ASSERT_TRUE(again.ok());
  for (int q = 0; q < nq; ++q) {
    for (int i = 0; i < k; ++i) EXPECT_EQ((*again)[q][i].label, (*got)[q][i].label);
  }
  EXPECT_EQ((*index)->Search(queries.data(), 1, 0).status().code(),
            absl::StatusCode::kInvalidArgument);
}

INSTANTIATE_TEST_SUITE_P(Kinds, VectorIndexTest,
                         ::testing::Values("faiss:Flat",
                                           "hnsw:M=16,ef_construction=100,ef_search=64",
                                           "faiss:IVF64,Flat"));

TEST(VectorIndex, FewerVectorsThanK) {
  const int dim = 16;
  std::vector<float> base = Clustered(3, dim, 2, 3);
  for (const char* text : {"faiss:Flat", "hnsw"}) {
    auto index = CreateIndex(*ParseIndexSpec(text), dim);
    ASSERT_TRUE(index.ok());
    auto empty = (*index)->Search(base.data(), 1, 5);
    ASSERT_TRUE(empty.ok()) << text;
    EXPECT_TRUE((*empty)[0].empty()) << text;
    ASSERT_TRUE((*index)->Add(base.data(), 3).ok());
    auto hits = (*index)->Search(base.data(), 1, 5);
    ASSERT_TRUE(hits.ok());
    EXPECT_EQ((*hits)[0].size(), 3u) << text;
  }
}

// Few queries at once take the vectorised scan (FlatTopK), many take FAISS's
// BLAS path: both must return the same neighbours with the same scores.
TEST(VectorIndex, ExactScanAgreesWithFaissBlas) {
  const int dim = 1280, n = 3000, nq = 40, k = 10;  // dim: the default model's, odd tails too
  std::vector<float> base = Clustered(n, dim, 30, 11);
  std::vector<float> queries = Clustered(nq, dim, 30, 12);
  auto index = CreateIndex(*ParseIndexSpec("faiss:Flat"), dim);
  ASSERT_TRUE(index.ok());
  ASSERT_TRUE((*index)->Add(base.data(), n).ok());
  auto blas = (*index)->Search(queries.data(), nq, k);  // nq >= 20: BLAS
  ASSERT_TRUE(blas.ok());
  for (int q = 0; q < nq; ++q) {
    auto one = (*index)->Search(queries.data() + q * dim, 1, k);  // the scan
    ASSERT_TRUE(one.ok());
    ASSERT_EQ((*one)[0].size(), static_cast<size_t>(k));
    for (int i = 0; i < k; ++i) {
      EXPECT_NEAR((*one)[0][i].score, (*blas)[q][i].score, 1e-4) << q << "/" << i;
      if (i + 1 < k) {
        EXPECT_GE((*one)[0][i].score, (*one)[0][i + 1].score);
      }
    }
    // Labels agree except where two scores tie within rounding.
    EXPECT_EQ((*one)[0][0].label, (*blas)[q][0].label) << q;
  }
}

TEST(VectorIndex, AdapterErrorsBecomeStatus) {
  EXPECT_EQ(CreateIndex(*ParseIndexSpec("faiss:NoSuchIndex"), 8).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_FALSE(CreateIndex(*ParseIndexSpec("faiss:Flat"), 0).ok());
  testing::ScratchDir dir;
  EXPECT_EQ(LoadIndex(*ParseIndexSpec("faiss:Flat"), 8, dir / "missing").status().code(),
            absl::StatusCode::kDataLoss);
  EXPECT_EQ(LoadIndex(*ParseIndexSpec("hnsw"), 8, dir / "missing").status().code(),
            absl::StatusCode::kDataLoss);
}

}  // namespace
}  // namespace photosearch
