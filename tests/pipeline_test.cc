// The time-windowed pipeline end to end, in process, against a local HTTP
// server on 127.0.0.1 that serves grocery photos and some bad answers (404,
// 500, a non-image body, a truncated JPEG): hourly runs, resume, a daily
// rollup from hourly features (zero images embedded, same results as building
// the day from images), missing inputs, cancellation, and run records.
#include <httplib.h>

#include <atomic>
#include <filesystem>
#include <set>
#include <thread>

#include "artifact/repository.h"
#include "base/files.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "index/shard.h"
#include "model/photo_embedder.h"
#include "nlohmann/json.hpp"
#include "pipeline/folder_indexer.h"
#include "pipeline/window_pipeline.h"
#include "support/test_env.h"

namespace photosearch {
namespace {

using ::testing::HasSubstr;

class PipelineTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    PhotoEmbedderOptions options;
    options.embedder.calibrate_max_batch = 8;
    auto embedder = PhotoEmbedder::Load(testing::DefaultModel(), options);
    ASSERT_TRUE(embedder.ok()) << embedder.status();
    embedder_ = embedder->release();
  }
  static void TearDownTestSuite() { delete embedder_; }

  void SetUp() override {
    photos_dir_ = testing::AssetsDir() + "/photos/grocery_store/test/Fruit";
    int64_t ignored = 0;
    photos_ = *ListPhotos(photos_dir_, &ignored);
    photos_.resize(40);
    server_.Get(R"(/photo/(.+))", [this](const httplib::Request& req, httplib::Response& res) {
      auto bytes = ReadFile(photos_dir_ + "/" + req.matches[1].str());
      if (!bytes.ok()) {
        res.status = 404;
        return;
      }
      res.set_content(*bytes, "image/jpeg");
    });
    server_.Get("/error",
                [](const httplib::Request&, httplib::Response& res) { res.status = 500; });
    server_.Get("/text", [](const httplib::Request&, httplib::Response& res) {
      res.set_content("<html>not a photo</html>", "image/jpeg");
    });
    server_.Get("/truncated", [this](const httplib::Request&, httplib::Response& res) {
      std::string jpeg = *ReadFile(photos_dir_ + "/" + photos_[0]);
      res.set_content(jpeg.substr(0, jpeg.size() / 2), "image/jpeg");
    });
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    while (!server_.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));

    // 40 photos in hours 05 and 06 of 2026-11-22, and four bad ones in hour 05.
    std::string catalog;
    auto line = [&](const std::string& id, const std::string& path, const std::string& at) {
      catalog +=
          nlohmann::json{{"item_id", id}, {"image_url", Url(path)}, {"listed_at", at}}.dump() +
          "\n";
    };
    for (size_t i = 0; i < photos_.size(); ++i) {
      line(photos_[i], "/photo/" + photos_[i],
           i % 2 ? "2026-11-22T05:" + std::to_string(10 + i) + ":00Z" : "2026-11-22T06:30:00Z");
    }
    line("bad-404", "/photo/none.jpg", "2026-11-22T05:01:00Z");
    line("bad-500", "/error", "2026-11-22T05:02:00Z");
    line("bad-text", "/text", "2026-11-22T05:03:00Z");
    line("bad-truncated", "/truncated", "2026-11-22T05:04:00Z");
    ASSERT_TRUE(WriteFileAtomic(files_ / "catalog.jsonl", catalog).ok());
    repo_ = std::make_unique<Repository>(NewLocalStore(repo_dir_.path()));
    options_.catalog = files_ / "catalog.jsonl";
    options_.max_failed_fraction = 0.5;
    options_.fetch.cache_dir = files_ / "cache";
    options_.fetch.backoff_ms = 10;
  }
  void TearDown() override {
    server_.stop();
    thread_.join();
  }

  std::string Url(const std::string& path) {
    return "http://127.0.0.1:" + std::to_string(port_) + path;
  }

  PipelineRun Run(const std::string& window, bool from_images = false) {
    PipelineOptions options = options_;
    options.window = window;
    options.from_images = from_images;
    auto run = RunPipeline(*embedder_, *repo_, options);
    EXPECT_TRUE(run.ok()) << run.status();
    return run.ok() ? *run : PipelineRun{};
  }

  std::unique_ptr<Shard> OpenShard(const std::string& window, int64_t version) {
    ArtifactKey key{"shard", embedder_->manifest().id, window, 0, 1};
    auto manifest = repo_->ReadManifest(key, version);
    EXPECT_TRUE(manifest.ok()) << manifest.status();
    auto dir = repo_->FetchVerified(key, *manifest, files_ / "fetch");
    auto shard = Shard::Open(*dir, *ParseIndexSpec(manifest->index), manifest->dimension);
    EXPECT_TRUE(shard.ok()) << shard.status();
    return std::move(*shard);
  }

  static PhotoEmbedder* embedder_;
  std::string photos_dir_;
  std::vector<std::string> photos_;
  httplib::Server server_;
  std::thread thread_;
  int port_ = 0;
  testing::ScratchDir files_, repo_dir_;
  std::unique_ptr<Repository> repo_;
  PipelineOptions options_;
};
PhotoEmbedder* PipelineTest::embedder_ = nullptr;

// The embed step with detect=all: a vector per detected object besides the
// whole image, kept through a rollup; the shard answers each item once.
TEST_F(PipelineTest, EmbedStepWithDetection) {
  options_.detect = "all";
  options_.detector = testing::SourceDir() + "/models/yolox_nano";
  PipelineRun hour = Run("hour/2026-11-22T05");
  ASSERT_EQ(hour.status, "succeeded") << hour.error;
  EXPECT_EQ(hour.embedded, 20);  // photos
  auto shard = OpenShard("hour/2026-11-22T05", hour.shard_version);
  EXPECT_GT(shard->size(), 20);  // vectors: the fruit on the shelves too
  std::set<std::string> items(shard->ids().begin(), shard->ids().end());
  EXPECT_EQ(items.size(), 20u);
  auto v = embedder_->EmbedPhoto(*ReadFile(photos_dir_ + "/" + photos_[1]), nullptr);
  ASSERT_TRUE(v.ok());
  auto hits = shard->Search(v->data(), 1, 10);
  ASSERT_TRUE(hits.ok());
  ASSERT_EQ((*hits)[0].size(), 10u);
  EXPECT_EQ((*hits)[0][0].item_id, photos_[1]);  // the whole image's vector is EmbedPhoto's
  std::set<std::string> distinct;
  for (const Hit& h : (*hits)[0]) distinct.insert(h.item_id);
  EXPECT_EQ(distinct.size(), 10u);

  // A re-run with whole images is a different source: embedded again.
  options_.detect = "whole";
  PipelineRun whole = Run("hour/2026-11-22T05");
  EXPECT_EQ(whole.embedded, 20);
  EXPECT_FALSE(whole.features_reused);
  options_.detect = "all";
  PipelineRun again = Run("hour/2026-11-22T05");  // newest features are whole: embed again
  EXPECT_EQ(again.embedded, 20);

  int64_t vectors = OpenShard("hour/2026-11-22T05", again.shard_version)->size();
  for (const std::string& h : ParseTimeWindow("day/2026-11-22")->Children()) {
    if (h == "hour/2026-11-22T05") continue;
    PipelineRun r = Run(h);
    EXPECT_EQ(r.status, "succeeded") << h;
    vectors += OpenShard(h, r.shard_version)->size();
  }
  PipelineRun day = Run("day/2026-11-22");
  ASSERT_EQ(day.status, "succeeded") << day.error;
  EXPECT_EQ(day.embedded, 0);
  auto day_shard = OpenShard("day/2026-11-22", day.shard_version);
  EXPECT_EQ(day_shard->size(), vectors);  // every region's vector survives the rollup
  std::set<std::string> day_items(day_shard->ids().begin(), day_shard->ids().end());
  EXPECT_EQ(day_items.size(), 40u);
}

TEST_F(PipelineTest, HoursResumeRollUpAndRecordEverything) {
  // Hour 05: 20 good photos, 4 bad ones recorded with their reasons.
  PipelineRun hour = Run("hour/2026-11-22T05");
  EXPECT_EQ(hour.status, "succeeded") << hour.error;
  EXPECT_EQ(hour.catalog_items, 24);
  EXPECT_EQ(hour.embedded, 20);
  EXPECT_EQ(hour.failure_count, 4);
  std::map<std::string, std::string> reasons(hour.failures.begin(), hour.failures.end());
  EXPECT_THAT(reasons["bad-404"], HasSubstr("HTTP 404"));
  EXPECT_THAT(reasons["bad-500"], HasSubstr("HTTP 500 (after 3 attempts)"));
  EXPECT_THAT(reasons["bad-text"], HasSubstr("not an image"));
  EXPECT_THAT(reasons["bad-truncated"], HasSubstr("truncated JPEG"));
  EXPECT_EQ(hour.features_version, 1);
  EXPECT_EQ(hour.shard_version, 1);
  auto shard = OpenShard("hour/2026-11-22T05", 1);
  EXPECT_EQ(shard->size(), 20);

  // The record is in the repository.
  auto record = repo_->store().Get("runs/" + hour.run_id + ".json");
  ASSERT_TRUE(record.ok());
  nlohmann::json j = nlohmann::json::parse(*record);
  EXPECT_EQ(j["status"], "succeeded");
  EXPECT_EQ(j["counts"]["failed"], 4);
  EXPECT_EQ(j["failures"].size(), 4u);
  EXPECT_FALSE(j["steps"].empty());
  EXPECT_EQ(j["inputs"]["catalog"], options_.catalog);
  EXPECT_EQ(j["inputs"]["catalog_sha256"].get<std::string>().size(), 64u);

  // Re-running resumes: nothing embedded, nothing published.
  const uint64_t embedded_before = embedder_->batcher().items_embedded();
  PipelineRun again = Run("hour/2026-11-22T05");
  EXPECT_EQ(again.embedded, 0);
  EXPECT_TRUE(again.features_reused);
  EXPECT_TRUE(again.shard_reused);
  EXPECT_EQ(again.shard_version, 1);
  EXPECT_EQ(embedder_->batcher().items_embedded(), embedded_before);

  // A day needs its 24 hours: it names the missing ones.
  PipelineOptions options = options_;
  options.window = "day/2026-11-22";
  auto early = RunPipeline(*embedder_, *repo_, options);
  ASSERT_TRUE(early.ok());
  EXPECT_EQ(early->status, "failed");
  EXPECT_THAT(early->error, HasSubstr("23 have no features yet: hour/2026-11-22T00"));

  // All hours (22 of them empty: they publish empty artifacts), then the day.
  for (const std::string& h : ParseTimeWindow("day/2026-11-22")->Children()) {
    PipelineRun r = Run(h);
    EXPECT_EQ(r.status, "succeeded") << h << r.error;
  }
  const uint64_t before_rollup = embedder_->batcher().items_embedded();
  PipelineRun day = Run("day/2026-11-22");
  EXPECT_EQ(day.status, "succeeded") << day.error;
  EXPECT_EQ(day.embedded, 0);
  EXPECT_EQ(day.from_rollup, 40);
  EXPECT_EQ(embedder_->batcher().items_embedded(), before_rollup);  // zero images embedded
  // Its record names the exact inputs: the 24 hourly feature versions.
  nlohmann::json day_record =
      nlohmann::json::parse(*repo_->store().Get("runs/" + day.run_id + ".json"));
  EXPECT_THAT(day_record["inputs"]["rollup_of"].get<std::string>(),
              HasSubstr("hour/2026-11-22T05@1,hour/2026-11-22T06@1"));
  EXPECT_FALSE(day_record["inputs"]["source_key"].get<std::string>().empty());

  // The same day built from images gives the same top 10 for every photo.
  PipelineRun direct = Run("day/2026-11-22", /*from_images=*/true);
  EXPECT_EQ(direct.status, "succeeded") << direct.error;
  EXPECT_EQ(direct.embedded, 40);
  auto rolled = OpenShard("day/2026-11-22", day.shard_version);
  auto built = OpenShard("day/2026-11-22", direct.shard_version);
  ASSERT_EQ(rolled->size(), built->size());
  int same = 0, total = 0;
  for (size_t i = 0; i < photos_.size(); ++i) {
    auto v = embedder_->EmbedPhoto(*ReadFile(photos_dir_ + "/" + photos_[i]), nullptr);
    ASSERT_TRUE(v.ok());
    auto a = rolled->Search(v->data(), 1, 10);
    auto b = built->Search(v->data(), 1, 10);
    std::set<std::string> want;
    for (const Hit& h : (*b)[0]) want.insert(h.item_id);
    for (const Hit& h : (*a)[0]) same += want.count(h.item_id);
    total += 10;
  }
  EXPECT_GE(static_cast<double>(same) / total, 0.99);

  // A month needs its days.
  options.window = "month/2026-11";
  auto month = RunPipeline(*embedder_, *repo_, options);
  ASSERT_TRUE(month.ok());
  EXPECT_EQ(month->status, "failed");
  EXPECT_THAT(month->error, HasSubstr("29 have no features yet: day/2026-11-01"));
}

TEST_F(PipelineTest, TooManyFailuresOrASignalPublishNothing) {
  PipelineOptions options = options_;
  options.window = "hour/2026-11-22T05";
  options.max_failed_fraction = 0.1;  // 4 of 24 fail
  auto strict = RunPipeline(*embedder_, *repo_, options);
  ASSERT_TRUE(strict.ok());
  EXPECT_EQ(strict->status, "failed");
  EXPECT_THAT(strict->error, HasSubstr("4 of 24 images failed"));

  std::atomic<bool> stop{true};
  options.max_failed_fraction = 0.5;
  options.cancelled = &stop;
  auto cancelled = RunPipeline(*embedder_, *repo_, options);
  ASSERT_TRUE(cancelled.ok());
  EXPECT_EQ(cancelled->status, "cancelled");
  ArtifactKey key{"feature", embedder_->manifest().id, "hour/2026-11-22T05", 0, 1};
  EXPECT_TRUE(repo_->ListVersions(key)->empty());
  EXPECT_EQ(repo_->store().List("runs/")->size(), 2u);  // both runs are recorded

  options.cancelled = nullptr;
  options.window = "week/47";
  EXPECT_EQ(RunPipeline(*embedder_, *repo_, options).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace photosearch
