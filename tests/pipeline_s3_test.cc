// A full hourly -> daily -> monthly cycle on an S3-compatible server (s3rver,
// started on 127.0.0.1) that holds the catalog, the images and the
// repository, driven by a YAML pipeline config; then a second process serves
// the bucket's shards and finds the photos.
//
// February 2026 has two days with listings (hours 03T05 and 17T14); their
// other hours, and the other 26 days (built --from-images), are empty
// windows, so the month rolls up from 28 daily feature artifacts.
#include <stdlib.h>

#include <filesystem>
#include <set>

#include "absl/strings/str_cat.h"
#include "artifact/repository.h"
#include "base/files.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "model/photo_embedder.h"
#include "nlohmann/json.hpp"
#include "pipeline/folder_indexer.h"
#include "pipeline/window_pipeline.h"
#include "support/http_client.h"
#include "support/test_env.h"

namespace photosearch {
namespace {

using ::testing::HasSubstr;

constexpr char kBucket[] = "cycle";

std::string Hour(int day, int hour) {
  char text[32];
  std::snprintf(text, sizeof(text), "hour/2026-02-%02dT%02d", day, hour);
  return text;
}
std::string Day(int day) {
  char text[32];
  std::snprintf(text, sizeof(text), "day/2026-02-%02d", day);
  return text;
}

TEST(PipelineS3Test, HourDayMonthCycleOnABucketThenServe) {
  testing::ScratchDir data, dir;
  int s3_port = -1;
  auto s3 = testing::StartS3Server(data.path(), kBucket, &s3_port);
  ASSERT_GT(s3_port, 0) << "s3rver did not start (run scripts/setup: npm ci in tests/web)";
  auto bucket = OpenStore(std::string("s3://") + kBucket);
  ASSERT_TRUE(bucket.ok()) << bucket.status();

  // Images and the catalog in the bucket: 6 photos listed on Feb 3 at 05:xx,
  // 6 on Feb 17 at 14:xx.
  const std::string photos_dir = testing::AssetsDir() + "/photos/grocery_store/test/Fruit";
  int64_t ignored = 0;
  std::vector<std::string> photos = *ListPhotos(photos_dir, &ignored);
  std::vector<std::string> day3(photos.begin(), photos.begin() + 6);
  std::vector<std::string> day17(photos.begin() + 200, photos.begin() + 206);
  std::string catalog;
  auto list = [&](const std::vector<std::string>& names, const std::string& at) {
    for (const std::string& name : names) {
      ASSERT_TRUE((*bucket)->PutFile("images/" + name, photos_dir + "/" + name).ok());
      catalog += nlohmann::json{{"item_id", name},
                                {"image_url", std::string("s3://") + kBucket + "/images/" + name},
                                {"listed_at", at}}
                     .dump() +
                 "\n";
    }
  };
  list(day3, "2026-02-03T05:20:00Z");
  list(day17, "2026-02-17T14:59:59Z");
  ASSERT_TRUE((*bucket)->Put("catalog.jsonl", catalog).ok());

  // The config names a catalog that does not exist: --catalog overrides it.
  const std::string config_path = dir / "pipeline.yaml";
  ASSERT_TRUE(WriteFileAtomic(config_path, absl::StrCat(R"(
catalog: s3://cycle/no-such-catalog.jsonl
repo: s3://cycle/repo
steps:
  - {name: listings, uses: catalog, only: images}
  - {name: model, uses: model, only: images}
  - name: download
    uses: fetch
    needs: [listings]
    only: images
    with: {concurrency: 4, cache_dir: ")",
                                                        dir / "cache", R"("}
  - {name: embed, uses: embed, needs: [download, model], only: images}
  - {name: rollup, uses: rollup, only: rollup}
  - {name: features, uses: publish-features, needs: [embed, rollup]}
  - {name: build, uses: build, needs: [embed, rollup]}
  - {name: publish, uses: publish-shard, needs: [build, features]}
)"))
                  .ok());
  const std::string real_catalog = std::string("s3://") + kBucket + "/catalog.jsonl";
  auto cli = [&](std::vector<std::string> args, std::string* output) {
    args.insert(args.begin(), {testing::PhotosearchBin(), "pipeline"});
    args.insert(args.end(), {"--config", config_path});
    return testing::RunCommand(args, output);
  };

  // The two hours with listings, as a scheduler would run them.
  std::string output;
  ASSERT_NE(cli({"run", "--window", Hour(3, 5)}, &output), 0);
  EXPECT_THAT(output, HasSubstr("no-such-catalog.jsonl"));
  for (const std::string& hour : {Hour(3, 5), Hour(17, 14)}) {
    ASSERT_EQ(cli({"run", "--window", hour, "--catalog", real_catalog}, &output), 0) << output;
    EXPECT_THAT(output, HasSubstr("succeeded: 6 catalog items, 6 embedded"));
  }

  // The empty hours of those days, and the other days built from (no) images,
  // in this process: 72 runs with one model load.
  PhotoEmbedderOptions model_options;
  model_options.embedder.calibrate_max_batch = 4;
  auto embedder = PhotoEmbedder::Load(testing::DefaultModel(), model_options);
  ASSERT_TRUE(embedder.ok()) << embedder.status();
  auto config = LoadPipelineConfig(config_path);
  ASSERT_TRUE(config.ok()) << config.status();
  auto repo_store = OpenStore(config->repo);
  ASSERT_TRUE(repo_store.ok());
  Repository repo(std::move(*repo_store));
  PipelineOptions options;
  options.config = *config;
  options.catalog = real_catalog;
  auto run_in_process = [&](const std::string& window, bool from_images) {
    options.window = window;
    options.from_images = from_images;
    auto run = RunPipeline(**embedder, repo, options);
    ASSERT_TRUE(run.ok()) << run.status();
    EXPECT_EQ(run->status, "succeeded") << window << ": " << run->error;
    EXPECT_EQ(run->embedded, 0) << window;
  };
  for (int day : {3, 17}) {
    for (int hour = 0; hour < 24; ++hour) {
      if ((day == 3 && hour == 5) || (day == 17 && hour == 14)) continue;
      run_in_process(Hour(day, hour), false);
    }
  }
  for (int day = 1; day <= 28; ++day) {
    if (day != 3 && day != 17) run_in_process(Day(day), true);
  }

  // Days from their 24 hourly feature artifacts, the month from its 28 days:
  // no model, no image.
  for (int day : {3, 17}) {
    ASSERT_EQ(cli({"run", "--window", Day(day)}, &output), 0) << output;
    EXPECT_THAT(output, HasSubstr("0 embedded, 6 from rollup"));
  }
  ASSERT_EQ(cli({"run", "--window", "month/2026-02"}, &output), 0) << output;
  EXPECT_THAT(output, HasSubstr("0 embedded, 12 from rollup"));
  ASSERT_EQ(cli({"run", "--window", "month/2026-02"}, &output), 0) << output;
  EXPECT_THAT(output, HasSubstr("(reused), shard v1 (reused)"));

  // Every run is recorded in the bucket.
  ASSERT_EQ(cli({"runs"}, &output), 0) << output;
  int succeeded = 0;
  for (size_t at = output.find("succeeded"); at != std::string::npos;
       at = output.find("succeeded", at + 1)) {
    ++succeeded;
  }
  EXPECT_EQ(succeeded, 2 + 46 + 26 + 2 + 2);
  auto month =
      repo.ListVersions(ArtifactKey{"shard", (*embedder)->manifest().id, "month/2026-02", 0, 1});
  ASSERT_TRUE(month.ok());
  EXPECT_EQ(*month, std::vector<int64_t>{1});

  // A second process serves the bucket and finds photos of both days.
  int port = -1;
  auto server = testing::StartServe({"--repo", config->repo, "--poll-seconds", "0"}, &port);
  ASSERT_GT(port, 0);
  for (const std::string& name : {day3[2], day17[4]}) {
    testing::HttpReply reply = testing::HttpClient(port).Post(
        "/v1/search?k=3", *ReadFile(photos_dir + "/" + name), "image/jpeg");
    ASSERT_EQ(reply.status, 200) << reply.body;
    nlohmann::json body = nlohmann::json::parse(reply.body);
    nlohmann::json results = body["results"];
    ASSERT_FALSE(results.empty());
    EXPECT_EQ(results[0]["item_id"], name);
    // Three tiers hold every item; the planner searches only the coarsest,
    // complete one: the month, not its days and hours beside it.
    EXPECT_EQ(body["plan"]["shards"], nlohmann::json::array({"month/2026-02/part-0-of-1"}));
    EXPECT_EQ(body["shards_searched"], 1);
    EXPECT_THAT(results[0]["shard"].get<std::string>(), HasSubstr("month/2026-02/"));
    std::set<std::string> ids;
    for (const auto& hit : results) ids.insert(hit["item_id"].get<std::string>());
    EXPECT_EQ(ids.size(), results.size());
  }
  // `photosearch search` reads the bucket too (it refused s3:// before).
  ASSERT_EQ(testing::RunCommand({testing::PhotosearchBin(), "search", "--repo", config->repo, "-k",
                                 "1", photos_dir + "/" + day17[4]},
                                &output),
            0)
      << output;
  EXPECT_THAT(output, HasSubstr(day17[4]));
}

}  // namespace
}  // namespace photosearch
