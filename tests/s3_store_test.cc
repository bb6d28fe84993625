// The S3 store against a real S3-compatible server (s3rver from npm) started
// on 127.0.0.1: object operations, errors, the artifact repository on a
// bucket, and `photosearch index` + `photosearch serve` with an s3://
// repository. s3rver checks the access key but not V4 signatures; those are
// checked against AWS's published examples in src/artifact/sigv4_test.cc.
#include "artifact/s3_store.h"

#include <stdlib.h>

#include <filesystem>
#include <thread>

#include "artifact/repository.h"
#include "base/files.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "pipeline/catalog.h"
#include "fetch/fetcher.h"
#include "support/http_client.h"
#include "support/test_env.h"

namespace photosearch {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

class S3StoreTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    data_ = new testing::ScratchDir();
    server_ = testing::StartS3Server(data_->path(), "photos", &port_).release();
    ASSERT_GT(port_, 0) << "s3rver did not start (run scripts/setup: npm ci in tests/web)";
  }
  static void TearDownTestSuite() {
    delete server_;
    delete data_;
  }

  static std::unique_ptr<Store> Open(const std::string& url) {
    auto store = OpenStore(url);
    EXPECT_TRUE(store.ok()) << store.status();
    return store.ok() ? std::move(*store) : nullptr;
  }

  static testing::ScratchDir* data_;
  static testing::ChildProcess* server_;
  static int port_;
};
testing::ScratchDir* S3StoreTest::data_ = nullptr;
testing::ChildProcess* S3StoreTest::server_ = nullptr;
int S3StoreTest::port_ = 0;

TEST_F(S3StoreTest, ObjectsRoundTripUnderAPrefix) {
  auto store = Open("s3://photos/objects");
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(store->url(), "s3://photos/objects");
  ASSERT_TRUE(store->Put("a/one.txt", "first").ok());
  ASSERT_TRUE(store->Put("a/two.bin", std::string("\0\1\2", 3)).ok());
  ASSERT_TRUE(store->Put("b/three", "x").ok());
  EXPECT_EQ(*store->Get("a/one.txt"), "first");
  EXPECT_EQ(*store->Get("a/two.bin"), std::string("\0\1\2", 3));
  EXPECT_THAT(*store->List("a/"), ::testing::ElementsAre("a/one.txt", "a/two.bin"));
  EXPECT_EQ(store->List("")->size(), 3u);

  // Another prefix of the same bucket sees none of it.
  auto other = Open("s3://photos/elsewhere");
  EXPECT_TRUE(other->List("")->empty());
  EXPECT_EQ(other->Get("a/one.txt").status().code(), absl::StatusCode::kNotFound);

  EXPECT_EQ(store->Get("missing").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(store->Get("a/one.txt", 3).status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(store->PutIfAbsent("a/one.txt", "again").code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(*store->Get("a/one.txt"), "first");
  EXPECT_TRUE(store->PutIfAbsent("a/new", "fresh").ok());
  EXPECT_EQ(store->Put("../escape", "x").code(), absl::StatusCode::kInvalidArgument);

  // Files: a 3 MiB upload, streamed, and its download.
  testing::ScratchDir local;
  std::string big(3 << 20, 'q');
  for (size_t i = 0; i < big.size(); i += 4096) big[i] = static_cast<char>(i / 4096);
  ASSERT_TRUE(WriteFileAtomic(local / "big", big).ok());
  ASSERT_TRUE(store->PutFile("files/big", local / "big").ok());
  auto path = store->GetFile("files/big", local / "cache");
  ASSERT_TRUE(path.ok()) << path.status();
  EXPECT_EQ(*ReadFile(*path, 64 << 20), big);

  ASSERT_TRUE(store->Delete("b/three").ok());
  EXPECT_EQ(store->Get("b/three").status().code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(store->Delete("b/three").ok());  // deleting twice is fine
}

TEST_F(S3StoreTest, ListsPastOnePage) {
  auto store = Open("s3://photos/many");
  for (int i = 0; i < 1105; ++i) {  // S3 pages hold 1000 keys
    ASSERT_TRUE(store->Put("k/" + std::to_string(100000 + i), "v").ok());
  }
  auto keys = store->List("k/");
  ASSERT_TRUE(keys.ok()) << keys.status();
  EXPECT_EQ(keys->size(), 1105u);
}

TEST_F(S3StoreTest, ClearErrorsAndNoSecretInThem) {
  S3Options options = *S3OptionsFromEnvironment();
  options.credentials.access_key_id = "NOSUCHKEY";
  options.credentials.secret_access_key = "wrong-secret-value";
  auto store = OpenS3Store("s3://photos/x", options);
  ASSERT_TRUE(store.ok());
  absl::Status denied = (*store)->Put("k", "v");
  EXPECT_EQ(denied.code(), absl::StatusCode::kPermissionDenied) << denied;
  EXPECT_THAT(denied.message(), HasSubstr("InvalidAccessKeyId"));
  EXPECT_THAT(denied.message(), Not(HasSubstr("wrong-secret-value")));

  options = *S3OptionsFromEnvironment();
  options.endpoint = "http://127.0.0.1:1";  // nothing listens there
  options.attempts = 2;
  absl::Status unreachable = (*OpenS3Store("s3://photos/x", options))->Put("k", "v");
  EXPECT_EQ(unreachable.code(), absl::StatusCode::kUnavailable) << unreachable;

  EXPECT_EQ(OpenStore("s3://Bad_Bucket/x").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Open("s3://nobucket/x")->Put("k", "v").code(), absl::StatusCode::kNotFound);
}

TEST_F(S3StoreTest, RepositoryPublishesVerifiesAndRefusesCorruption) {
  Repository repo(Open("s3://photos/repo-unit"));
  testing::ScratchDir local;
  ASSERT_TRUE(WriteFileAtomic(local / "index.faiss", "index bytes").ok());
  ASSERT_TRUE(WriteFileAtomic(local / "ids.bin", "ids").ok());
  ArtifactKey key{"shard", "m@1", "day/2026-11-22", 0, 1};
  ArtifactManifest fields;
  fields.dimension = 4;
  fields.item_count = 1;
  fields.index = "faiss:Flat";
  for (int i = 0; i < 2; ++i) {
    auto published = repo.Publish(key, fields, {local / "index.faiss", local / "ids.bin"});
    ASSERT_TRUE(published.ok()) << published.status();
    EXPECT_EQ(published->version, i + 1);
  }
  EXPECT_THAT(*repo.ListVersions(key), ::testing::ElementsAre(1, 2));
  auto manifest = repo.ReadManifest(key, 2);
  ASSERT_TRUE(manifest.ok()) << manifest.status();
  auto dir = repo.FetchVerified(key, *manifest, local / "fetch");
  ASSERT_TRUE(dir.ok()) << dir.status();
  EXPECT_EQ(*ReadFile(*dir + "/ids.bin"), "ids");

  ASSERT_TRUE(repo.store().Put(key.Prefix() + "2/ids.bin", "tampered").ok());
  auto corrupt = repo.FetchVerified(key, *manifest, local / "fetch2");
  EXPECT_EQ(corrupt.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(corrupt.status().message(), HasSubstr("ids.bin"));
}

TEST_F(S3StoreTest, TheFetcherReadsImagesFromABucket) {
  auto bucket = Open("s3://photos");
  ASSERT_TRUE(bucket->Put("images/kiwi.jpg", "jpeg bytes").ok());
  testing::ScratchDir cache;
  FetchOptions options;
  options.cache_dir = cache.path();
  auto fetcher = *Fetcher::Create(options);
  EXPECT_EQ(*fetcher->Fetch("s3://photos/images/kiwi.jpg"), "jpeg bytes");
  EXPECT_EQ(fetcher->Fetch("s3://photos/images/none.jpg").status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(fetcher->Fetch("s3://photos").status().code(), absl::StatusCode::kInvalidArgument);
  bool from_cache = false;
  ASSERT_TRUE(fetcher->Fetch("s3://photos/images/kiwi.jpg", &from_cache).ok());
  EXPECT_TRUE(from_cache);

  // A catalog in the bucket, too.
  ASSERT_TRUE(bucket
                  ->Put("catalogs/c.csv",
                        "item_id,image_url,listed_at\nk1,s3://photos/images/kiwi.jpg,"
                        "2026-11-22T05:10:00Z\n")
                  .ok());
  auto read = ReadCatalog("s3://photos/catalogs/c.csv", *ParseTimeWindow("hour/2026-11-22T05"),
                          Partition{});
  ASSERT_TRUE(read.ok()) << read.status();
  ASSERT_EQ(read->items.size(), 1u);
  EXPECT_EQ(*fetcher->Fetch(read->items[0].image_url), "jpeg bytes");
}

TEST_F(S3StoreTest, IndexAndServeFromABucket) {
  const std::string photos = testing::AssetsDir() + "/photos/grocery_store/test/Fruit/Kiwi";
  std::string output;
  ASSERT_EQ(testing::RunCommand({testing::PhotosearchBin(), "index", "--photos", photos, "--repo",
                                 "s3://photos/served"},
                                &output),
            0)
      << output;
  int port = -1;
  auto server = testing::StartServe({"--repo", "s3://photos/served", "--poll-seconds", "0"}, &port);
  ASSERT_GT(port, 0);
  testing::HttpReply reply = testing::HttpClient(port).Post(
      "/v1/search?k=1", *ReadFile(photos + "/Kiwi_001.jpg"), "image/jpeg");
  ASSERT_EQ(reply.status, 200) << reply.body;
  EXPECT_EQ(nlohmann::json::parse(reply.body)["results"][0]["item_id"], "Kiwi_001.jpg");

  // The artifacts commands on the bucket: a second version, verify, gc.
  ASSERT_EQ(testing::RunCommand({testing::PhotosearchBin(), "index", "--photos", photos, "--repo",
                                 "s3://photos/served"},
                                &output),
            0)
      << output;
  ASSERT_EQ(testing::RunCommand(
                {testing::PhotosearchBin(), "artifacts", "verify", "--repo", "s3://photos/served"},
                &output),
            0)
      << output;
  EXPECT_THAT(output, HasSubstr("2 versions checked, 0 corrupt"));
  ASSERT_EQ(testing::RunCommand({testing::PhotosearchBin(), "artifacts", "gc", "--repo",
                                 "s3://photos/served", "--keep", "1"},
                                &output),
            0)
      << output;
  EXPECT_THAT(output, HasSubstr("removed 1 version"));
  ASSERT_EQ(testing::RunCommand(
                {testing::PhotosearchBin(), "artifacts", "list", "--repo", "s3://photos/served"},
                &output),
            0);
  EXPECT_THAT(output, HasSubstr("1 version (newest 2: 45 items"));

  // The CLI's one-line error for a repository it cannot reach.
  setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:1", 1);
  int code = testing::RunCommand(
      {testing::PhotosearchBin(), "index", "--photos", photos, "--repo", "s3://photos/served"},
      &output);
  setenv("AWS_ENDPOINT_URL", ("http://127.0.0.1:" + std::to_string(port_)).c_str(), 1);
  EXPECT_NE(code, 0);
  EXPECT_THAT(output, HasSubstr("cannot reach http://127.0.0.1:1"));
}

}  // namespace
}  // namespace photosearch
