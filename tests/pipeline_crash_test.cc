// Crash safety of `photosearch pipeline run`: the process is killed (SIGKILL,
// no chance to clean up) while it fetches, and again once every image is
// fetched (embedding or publishing); the next run completes, no version is
// ever visible half-written, and images already fetched are not fetched again
// (the shared disk cache). A kill between a shard's files and its manifest
// leaves no visible version. SIGTERM stops a run cleanly with exit code 130.
#include <httplib.h>
#include <signal.h>
#include <stdlib.h>

#include <atomic>
#include <filesystem>
#include <map>
#include <mutex>
#include <thread>

#include "artifact/repository.h"
#include "base/files.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "pipeline/folder_indexer.h"
#include "support/test_env.h"

namespace photosearch {
namespace {

using ::testing::HasSubstr;

constexpr char kModel[] = "mobilenetv2-gap1280-fp32@1";
constexpr char kWindow[] = "hour/2026-11-22T05";

class PipelineCrashTest : public ::testing::Test {
 protected:
  void SetUp() override {
    photos_dir_ = testing::AssetsDir() + "/photos/grocery_store/test/Vegetables";
    int64_t ignored = 0;
    photos_ = *ListPhotos(photos_dir_, &ignored);
    photos_.resize(120);
    server_.Get(R"(/photo/(.+))", [this](const httplib::Request& req, httplib::Response& res) {
      std::this_thread::sleep_for(std::chrono::milliseconds(40));  // a slow image host
      {
        std::lock_guard<std::mutex> lock(mu_);
        hits_[req.matches[1].str()]++;
      }
      total_hits_++;
      res.set_content(*ReadFile(photos_dir_ + "/" + req.matches[1].str()), "image/jpeg");
    });
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    while (!server_.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    std::string catalog;
    for (const std::string& p : photos_) {
      catalog +=
          nlohmann::json{{"item_id", p},
                         {"image_url", "http://127.0.0.1:" + std::to_string(port_) + "/photo/" + p},
                         {"listed_at", "2026-11-22T05:30:00Z"}}
              .dump() +
          "\n";
    }
    ASSERT_TRUE(WriteFileAtomic(dir_ / "catalog.jsonl", catalog).ok());
  }
  void TearDown() override {
    server_.stop();
    thread_.join();
  }

  std::vector<std::string> Args() {
    return {testing::PhotosearchBin(),
            "pipeline",
            "run",
            "--window",
            kWindow,
            "--catalog",
            dir_ / "catalog.jsonl",
            "--repo",
            dir_ / "repo",
            "--cache-dir",
            dir_ / "cache",
            "--concurrency",
            "4"};
  }

  // Starts a run and SIGKILLs it once the server has answered `hits` requests.
  void KillAfter(int hits) {
    testing::ChildProcess run(Args());
    for (int i = 0; i < 3000 && total_hits_ < hits; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    ASSERT_GE(total_hits_, hits) << "the run did not fetch";
    EXPECT_EQ(run.Stop(SIGKILL, std::chrono::seconds(10)) & 0x7f, SIGKILL);
  }

  // No version of the window is published without its manifest's files, and
  // what is published verifies.
  void ExpectNothingHalfWritten() {
    Repository repo(NewLocalStore(dir_ / "repo"));
    for (const char* kind : {"feature", "shard"}) {
      ArtifactKey key{kind, kModel, kWindow, 0, 1};
      auto versions = repo.ListVersions(key);  // named: a temporary would dangle
      ASSERT_TRUE(versions.ok());
      for (int64_t v : *versions) {
        auto manifest = repo.ReadManifest(key, v);
        ASSERT_TRUE(manifest.ok()) << manifest.status();
        EXPECT_TRUE(repo.FetchVerified(key, *manifest, dir_ / "verify").ok()) << kind << v;
      }
    }
  }

  std::string photos_dir_;
  std::vector<std::string> photos_;
  httplib::Server server_;
  std::thread thread_;
  int port_ = 0;
  std::mutex mu_;
  std::map<std::string, int> hits_;
  std::atomic<int> total_hits_{0};
  testing::ScratchDir dir_;
};

TEST_F(PipelineCrashTest, KilledDuringFetchAndEmbedThenResumes) {
  KillAfter(40);  // while fetching
  ExpectNothingHalfWritten();
  Repository repo(NewLocalStore(dir_ / "repo"));
  EXPECT_TRUE(repo.ListVersions(ArtifactKey{"feature", kModel, kWindow, 0, 1})->empty());
  const int fetched_before = total_hits_;

  KillAfter(120);  // every image fetched: embedding or publishing
  ExpectNothingHalfWritten();

  std::string output;
  ASSERT_EQ(testing::RunCommand(Args(), &output), 0) << output;
  EXPECT_THAT(output, HasSubstr("succeeded: 120 catalog items"));
  ExpectNothingHalfWritten();
  EXPECT_EQ(*repo.ListVersions(ArtifactKey{"shard", kModel, kWindow, 0, 1}),
            std::vector<int64_t>{1});
  // Each image was downloaded once, except the few in flight at a kill
  // (4 at a time) — the cache kept everything finished.
  int repeats = 0;
  for (const auto& [path, n] : hits_) repeats += n - 1;
  EXPECT_EQ(hits_.size(), photos_.size());
  EXPECT_LE(repeats, 2 * 4) << "fetched before the first kill: " << fetched_before;

  // And a further run changes nothing.
  ASSERT_EQ(testing::RunCommand(Args(), &output), 0) << output;
  EXPECT_THAT(output, HasSubstr("features v1 (reused), shard v1 (reused)"));
}

// Killed between uploading the shard's files and writing its manifest: the
// claimed version never becomes visible, and the next run reuses the
// published features (nothing fetched or embedded) and publishes the shard.
TEST_F(PipelineCrashTest, KilledDuringPublishThenResumes) {
  std::string output;
  setenv("PHOTOSEARCH_TEST_KILL_BEFORE_MANIFEST", "shard", 1);
  const int killed = testing::RunCommand(Args(), &output);
  unsetenv("PHOTOSEARCH_TEST_KILL_BEFORE_MANIFEST");
  EXPECT_NE(killed, 0) << output;
  ExpectNothingHalfWritten();
  Repository repo(NewLocalStore(dir_ / "repo"));
  const ArtifactKey shard{"shard", kModel, kWindow, 0, 1};
  EXPECT_EQ(*repo.ListVersions(ArtifactKey{"feature", kModel, kWindow, 0, 1}),
            std::vector<int64_t>{1});
  EXPECT_TRUE(repo.ListVersions(shard)->empty());  // claimed, files there, no manifest
  EXPECT_TRUE(std::filesystem::exists(dir_ / "repo/" + shard.Prefix() + "1"));
  const int fetched = total_hits_;
  EXPECT_EQ(fetched, static_cast<int>(photos_.size()));

  ASSERT_EQ(testing::RunCommand(Args(), &output), 0) << output;
  EXPECT_THAT(output, HasSubstr("0 embedded"));
  EXPECT_THAT(output, HasSubstr("features v1 (reused), shard v2"));
  EXPECT_EQ(total_hits_, fetched);  // nothing fetched again
  ExpectNothingHalfWritten();
  EXPECT_EQ(*repo.ListVersions(shard), std::vector<int64_t>{2});
}

TEST_F(PipelineCrashTest, SigtermStopsCleanly) {
  testing::ChildProcess run(Args());
  for (int i = 0; i < 3000 && total_hits_ < 20; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  int status = run.Stop(SIGTERM, std::chrono::seconds(30));
  ASSERT_TRUE(WIFEXITED(status)) << status;
  EXPECT_EQ(WEXITSTATUS(status), 130);
  Repository repo(NewLocalStore(dir_ / "repo"));
  EXPECT_TRUE(repo.ListVersions(ArtifactKey{"feature", kModel, kWindow, 0, 1})->empty());
  auto runs = repo.store().List("runs/");
  ASSERT_EQ(runs->size(), 1u);
  EXPECT_THAT(*repo.store().Get((*runs)[0]), HasSubstr("\"status\": \"cancelled\""));
}

}  // namespace
}  // namespace photosearch
