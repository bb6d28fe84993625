#include "artifact/repository.h"

#include <filesystem>
#include <fstream>
#include <set>
#include <thread>

#include "base/files.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "support/test_env.h"

namespace photosearch {
namespace {

using ::testing::HasSubstr;

class RepositoryTest : public ::testing::Test {
 protected:
  RepositoryTest() : repo_(NewLocalStore(root_.path())) {
    EXPECT_TRUE(WriteFileAtomic(files_ / "index.faiss", "index bytes").ok());
    EXPECT_TRUE(WriteFileAtomic(files_ / "ids.bin", "ids bytes").ok());
  }

  absl::StatusOr<ArtifactManifest> PublishOne() {
    ArtifactManifest m;
    m.dimension = 8;
    m.index = "faiss:Flat";
    m.item_count = 2;
    return repo_.Publish(key_, m, {files_ / "index.faiss", files_ / "ids.bin"});
  }

  testing::ScratchDir root_;
  testing::ScratchDir files_;
  Repository repo_;
  ArtifactKey key_{"shard", "m@1", "all", 0, 1};
};

TEST_F(RepositoryTest, VersionsGrowAndManifestsDescribeFiles) {
  auto v1 = PublishOne();
  ASSERT_TRUE(v1.ok()) << v1.status();
  auto v2 = PublishOne();
  ASSERT_TRUE(v2.ok());
  EXPECT_EQ(v1->version, 1);
  EXPECT_EQ(v2->version, 2);
  EXPECT_EQ(*repo_.ListVersions(key_), (std::vector<int64_t>{1, 2}));
  auto read = repo_.ReadManifest(key_, 2);
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(read->model_id, "m@1");
  EXPECT_EQ(read->kind, "shard");
  ASSERT_EQ(read->files.size(), 2u);
  EXPECT_EQ(read->files[0].name, "index.faiss");
  EXPECT_EQ(read->files[0].size_bytes, 11u);
  EXPECT_EQ(read->files[0].sha256.size(), 64u);
  EXPECT_FALSE(read->created_at.empty());
  EXPECT_TRUE(std::filesystem::exists(root_ / "shards/m@1/all/part-0-of-1/2/manifest.json"));

  auto artifacts = repo_.ListArtifacts("shard");
  ASSERT_TRUE(artifacts.ok());
  ASSERT_EQ(artifacts->size(), 1u);
  EXPECT_EQ((*artifacts)[0].key.Prefix(), key_.Prefix());
  EXPECT_EQ((*artifacts)[0].versions, (std::vector<int64_t>{1, 2}));
  EXPECT_TRUE(repo_.ListArtifacts("shard", "other@1")->empty());

  auto dir = repo_.FetchVerified(key_, *read, "/unused");
  ASSERT_TRUE(dir.ok()) << dir.status();
  EXPECT_EQ(*ReadFile(*dir + "/ids.bin"), "ids bytes");
}

TEST_F(RepositoryTest, WindowsWithASlashAreListed) {
  key_.window = "hour/2026-11-22T05";
  key_.partition = 1;
  key_.partitions = 4;
  ASSERT_TRUE(PublishOne().ok());
  auto artifacts = repo_.ListArtifacts("shard");
  ASSERT_EQ(artifacts->size(), 1u);
  EXPECT_EQ((*artifacts)[0].key.window, "hour/2026-11-22T05");
  EXPECT_EQ((*artifacts)[0].key.partition, 1);
  EXPECT_EQ((*artifacts)[0].key.partitions, 4);
}

TEST_F(RepositoryTest, CorruptOrMissingFilesAreRefusedByName) {
  auto m = PublishOne();
  ASSERT_TRUE(m.ok());
  const std::string dir = root_ / "shards/m@1/all/part-0-of-1/1";
  // Same size, one byte changed.
  ASSERT_TRUE(WriteFileAtomic(dir + "/ids.bin", "ids bytez").ok());
  auto corrupt = repo_.FetchVerified(key_, *m, "/unused");
  EXPECT_EQ(corrupt.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(std::string(corrupt.status().message()), HasSubstr("ids.bin"));
  EXPECT_THAT(std::string(corrupt.status().message()), HasSubstr("corrupt"));
  // Truncated.
  ASSERT_TRUE(WriteFileAtomic(dir + "/ids.bin", "ids").ok());
  EXPECT_EQ(repo_.FetchVerified(key_, *m, "/unused").status().code(), absl::StatusCode::kDataLoss);
  // Missing.
  std::filesystem::remove(dir + "/index.faiss");
  auto missing = repo_.FetchVerified(key_, *m, "/unused");
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(std::string(missing.status().message()), HasSubstr("missing index.faiss"));
  // A manifest that is not JSON.
  ASSERT_TRUE(WriteFileAtomic(dir + "/manifest.json", "{ not json").ok());
  EXPECT_EQ(repo_.ReadManifest(key_, 1).status().code(), absl::StatusCode::kDataLoss);
}

TEST_F(RepositoryTest, AnUnfinishedPublishIsInvisibleAndItsVersionIsNotReused) {
  // A publisher that died after claiming version 1 and uploading a file.
  ASSERT_TRUE(WriteFileAtomic(root_ / "shards/m@1/all/part-0-of-1/1/CLAIM", "x").ok());
  ASSERT_TRUE(WriteFileAtomic(root_ / "shards/m@1/all/part-0-of-1/1/index.faiss", "half").ok());
  EXPECT_TRUE(repo_.ListVersions(key_)->empty());
  EXPECT_TRUE(repo_.ListArtifacts("shard")->empty());
  auto next = PublishOne();
  ASSERT_TRUE(next.ok());
  EXPECT_EQ(next->version, 2);
}

TEST_F(RepositoryTest, ConcurrentPublishersGetDistinctVersions) {
  // Enough publishers that listings regularly see each other's temp files come
  // and go (a listing once failed on a file that vanished under it).
  constexpr int kThreads = 8, kEach = 4;
  std::vector<std::thread> threads;
  std::vector<int64_t> versions(kThreads * kEach);
  std::vector<std::string> errors(kThreads * kEach);
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) {
        auto m = PublishOne();
        versions[t * kEach + i] = m.ok() ? m->version : -1;
        if (!m.ok()) errors[t * kEach + i] = std::string(m.status().message());
      }
    });
  }
  for (auto& t : threads) t.join();
  for (const std::string& e : errors) EXPECT_EQ(e, "");
  std::set<int64_t> distinct(versions.begin(), versions.end());
  EXPECT_EQ(distinct.size(), static_cast<size_t>(kThreads * kEach));
  EXPECT_EQ(*distinct.begin(), 1);
  EXPECT_EQ(*distinct.rbegin(), kThreads * kEach);
}

TEST_F(RepositoryTest, RefusesBadKeysWindowsAndPartitions) {
  key_.window = "week/2026-47";
  EXPECT_EQ(PublishOne().status().code(), absl::StatusCode::kInvalidArgument);
  key_.window = "all";
  key_.partition = 4;
  key_.partitions = 4;
  EXPECT_EQ(PublishOne().status().code(), absl::StatusCode::kInvalidArgument);
  key_.partition = 0;
  key_.model_id = "../../etc";
  EXPECT_EQ(PublishOne().status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(Store, KeysCannotEscapeTheRoot) {
  for (const char* bad : {"", "/abs", "a//b", "a/../b", "..", "a/./b", "a\\b", "a b", "a/b/"}) {
    EXPECT_EQ(ValidateKey(bad).code(), absl::StatusCode::kInvalidArgument) << bad;
  }
  EXPECT_TRUE(ValidateKey("shards/m@1/hour/2026-11-22T05/part-0-of-1/3/manifest.json").ok());
  testing::ScratchDir dir;
  auto store = NewLocalStore(dir.path());
  EXPECT_FALSE(store->Put("../outside", "x").ok());
  EXPECT_FALSE(
      std::filesystem::exists(std::filesystem::path(dir.path()).parent_path() / "outside"));
  ASSERT_TRUE(store->Put("a/b", "1").ok());
  EXPECT_EQ(store->PutIfAbsent("a/b", "2").code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(*store->Get("a/b"), "1");
  EXPECT_EQ(store->Get("a/c").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(*store->List("a/"), (std::vector<std::string>{"a/b"}));
  ASSERT_TRUE(store->Delete("a/b").ok());
  EXPECT_EQ(store->Delete("a/b").code(), absl::StatusCode::kNotFound);
}

TEST(Store, OpenStoreByUrl) {
  testing::ScratchDir dir;
  EXPECT_TRUE(OpenStore(dir / "new-repo").ok());  // created
  EXPECT_TRUE(OpenStore("file://" + dir / "other").ok());
  EXPECT_EQ(OpenStore("ftp://host/x").status().code(), absl::StatusCode::kInvalidArgument);
  ASSERT_TRUE(WriteFileAtomic(dir / "plain-file", "x").ok());
  EXPECT_FALSE(OpenStore(dir / "plain-file").ok());
}

TEST_F(RepositoryTest, DeletedVersionsVanishAndTheirNumbersAreNotReused) {
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(PublishOne().ok());
  ASSERT_TRUE(repo_.DeleteVersion(key_, 1).ok());
  ASSERT_TRUE(repo_.DeleteVersion(key_, 3).ok());
  EXPECT_EQ(*repo_.ListVersions(key_), (std::vector<int64_t>{2}));
  EXPECT_FALSE(std::filesystem::exists(root_ / "shards/m@1/all/part-0-of-1/1/index.faiss"));
  EXPECT_EQ(repo_.ReadManifest(key_, 3).status().code(), absl::StatusCode::kNotFound);
  auto next = PublishOne();
  ASSERT_TRUE(next.ok());
  EXPECT_EQ(next->version, 4);  // 3 stays claimed
}

TEST(ParseArtifactPath, RoundTripsPrefixesWithAndWithoutVersion) {
  int64_t version = -1;
  for (const ArtifactKey& key : {ArtifactKey{"shard", "m@1", "all", 0, 1},
                                 ArtifactKey{"feature", "m@1", "hour/2026-11-22T05", 3, 4},
                                 ArtifactKey{"shard", "resnet-50@2", "month/2026-11", 0, 1}}) {
    auto parsed = ParseArtifactPath(key.Prefix(), &version);
    ASSERT_TRUE(parsed.ok()) << key.Prefix() << parsed.status();
    EXPECT_EQ(parsed->Prefix(), key.Prefix());
    EXPECT_EQ(version, 0);
    parsed = ParseArtifactPath(key.Prefix() + "12", &version);
    ASSERT_TRUE(parsed.ok());
    EXPECT_EQ(parsed->Prefix(), key.Prefix());
    EXPECT_EQ(version, 12);
  }
  for (const char* bad : {"", "shards", "shards/m@1/all", "shards/m@1/week/1/part-0-of-1",
                          "shards/m@1/all/part-2-of-2", "shards/../all/part-0-of-1",
                          "shards/m@1/all/part-0-of-1/0", "shards/m@1/all/part-0-of-1/x"}) {
    EXPECT_EQ(ParseArtifactPath(bad, &version).status().code(), absl::StatusCode::kInvalidArgument)
        << bad;
  }
}

}  // namespace
}  // namespace photosearch
