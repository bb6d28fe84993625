#include "pipeline/pipeline_config.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdlib>

namespace photosearch {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

std::string Error(const std::string& yaml) {
  absl::StatusOr<PipelineConfig> config = ParsePipelineConfig(yaml, "p.yaml");
  return config.ok() ? "parsed" : std::string(config.status().message());
}

std::vector<std::string> Names(const std::vector<PlannedStep>& plan) {
  std::vector<std::string> names;
  for (const PlannedStep& step : plan) names.push_back(step.config.name);
  return names;
}

TEST(PipelineConfigTest, DefaultPlansImagesAndRollups) {
  const PipelineConfig& config = DefaultPipelineConfig();
  absl::StatusOr<std::vector<PlannedStep>> images = PlanPipeline(config, "images");
  ASSERT_TRUE(images.ok()) << images.status();
  EXPECT_THAT(Names(*images), ElementsAre("catalog", "model", "fetch", "embed", "publish-features",
                                          "build", "publish-shard"));
  const PlannedStep& build = (*images)[5];
  EXPECT_EQ(build.input_from.at("vectors"), "embed");
  EXPECT_THAT(build.needs, ElementsAre("embed"));  // rollup does not run for images
  EXPECT_TRUE((*images)[2].has_consumers);         // fetch streams into embed

  absl::StatusOr<std::vector<PlannedStep>> rollup = PlanPipeline(config, "rollup");
  ASSERT_TRUE(rollup.ok()) << rollup.status();
  EXPECT_THAT(Names(*rollup), ElementsAre("rollup", "publish-features", "build", "publish-shard"));
}

// The example shipped for users parses and plans in both modes.
TEST(PipelineConfigTest, ExampleConfigIsValid) {
  const char* source = std::getenv("PHOTOSEARCH_SOURCE_DIR");
  ASSERT_NE(source, nullptr);
  absl::StatusOr<PipelineConfig> example =
      LoadPipelineConfig(std::string(source) + "/examples/pipeline.yaml");
  ASSERT_TRUE(example.ok()) << example.status();
  EXPECT_TRUE(PlanPipeline(*example, "images").ok());
  EXPECT_TRUE(PlanPipeline(*example, "rollup").ok());
  EXPECT_EQ(example->repo, "s3://photosearch/repo");
}

TEST(PipelineConfigTest, ParsesTopLevelAndParameters) {
  absl::StatusOr<PipelineConfig> config = ParsePipelineConfig(R"(
catalog: s3://bucket/catalog.jsonl
repo: s3://bucket/repo
steps:
  - {name: catalog, uses: catalog}
  - {name: model, uses: model}
  - name: fetch
    uses: fetch
    needs: catalog
    with: {concurrency: 16, cache_gb: 2}
  - {name: embed, uses: embed, needs: [fetch, model], with: {max_failed_fraction: 0.2}}
  - {name: features, uses: publish-features, needs: [embed]}
  - {name: build, uses: build, needs: [embed], with: {index: "faiss:Flat"}}
  - {name: publish, uses: publish-shard, needs: [build, features]}
)",
                                                              "p.yaml");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->catalog, "s3://bucket/catalog.jsonl");
  EXPECT_EQ(config->repo, "s3://bucket/repo");
  const StepConfig& fetch = config->steps[2];
  EXPECT_THAT(fetch.needs, ElementsAre("catalog"));
  EXPECT_EQ(*IntParam(fetch, "concurrency", 8, 1, 256), 16);
  EXPECT_EQ(*IntParam(fetch, "attempts", 3, 1, 10), 3);  // default
  EXPECT_EQ(*DoubleParam(config->steps[3], "max_failed_fraction", 0.05, 0, 1), 0.2);
  EXPECT_EQ(StringParam(config->steps[5], "index", "auto"), "faiss:Flat");
  EXPECT_TRUE(PlanPipeline(*config, "images").ok());

  const std::string before = PipelineConfigHash(*config);
  OverrideStepParam(&*config, "fetch", "concurrency", "4");  // --concurrency 4
  EXPECT_EQ(*IntParam(config->steps[2], "concurrency", 8, 1, 256), 4);
  EXPECT_NE(PipelineConfigHash(*config), before);

  config->steps[2].with["concurrency"] = "lots";
  EXPECT_THAT(IntParam(config->steps[2], "concurrency", 8, 1, 256).status().message(),
              HasSubstr("step 'fetch': concurrency is 'lots', want an integer in [1, 256]"));
}

TEST(PipelineConfigTest, BadConfigsSayWhatIsWrong) {
  EXPECT_THAT(Error("steps: [\n  {name: a, uses: a"), HasSubstr("p.yaml:"));
  EXPECT_THAT(Error("steps: []"), HasSubstr("no steps"));
  EXPECT_THAT(Error("stepz: []"), HasSubstr("p.yaml:1: unknown key 'stepz'"));
  EXPECT_THAT(Error("steps:\n  - {name: x, uses: teleport}"),
              HasSubstr("p.yaml:2: step 'x' uses 'teleport', which is not a step kind"));
  EXPECT_THAT(Error("steps:\n  - {name: x, uses: fetch, with: {speed: 9}}"),
              HasSubstr("step 'x' (fetch) has no parameter 'speed'"));
  EXPECT_THAT(Error("steps:\n  - {name: x, uses: rollup, colour: red}"),
              HasSubstr("unknown step key 'colour'"));
  EXPECT_THAT(Error("steps:\n  - {name: 'a b', uses: rollup}"), HasSubstr("step name 'a b'"));
  EXPECT_THAT(Error("steps:\n  - {name: x, uses: rollup, only: sometimes}"),
              HasSubstr("only must be images or rollup"));
  EXPECT_THAT(Error("steps:\n  - {name: x, uses: rollup, needs: [y]}"),
              HasSubstr("step 'x' needs 'y', which is not a step"));
  EXPECT_THAT(Error("steps:\n  - {name: x, uses: rollup, needs: [y]}\n"
                    "  - {name: y, uses: rollup, needs: [x]}"),
              HasSubstr("cycle"));
  // Found by fuzzing: a string that is not UTF-8 made the config's hash throw
  // (std::terminate) after the config had been accepted.
  EXPECT_THAT(Error("repo: s3://photos\x88\x9c/repo\nsteps:\n  - {name: x, uses: rollup}"),
              HasSubstr("p.yaml: not UTF-8 text (byte 17 is not part of a character)"));
}

TEST(PipelineConfigTest, PlanChecksInputTypes) {
  absl::StatusOr<PipelineConfig> wrong = ParsePipelineConfig(R"(
steps:
  - {name: catalog, uses: catalog}
  - {name: build, uses: build, needs: [catalog]}
)",
                                                             "p.yaml");
  ASSERT_TRUE(wrong.ok()) << wrong.status();
  EXPECT_THAT(PlanPipeline(*wrong, "images").status().message(),
              HasSubstr("step 'build' (build) needs a step that makes vectors"));

  absl::StatusOr<PipelineConfig> two = ParsePipelineConfig(R"(
steps:
  - {name: r, uses: rollup}
  - {name: f1, uses: publish-features, needs: [r]}
  - {name: f2, uses: publish-features, needs: [r]}
)",
                                                           "p.yaml");
  ASSERT_TRUE(two.ok()) << two.status();
  EXPECT_THAT(PlanPipeline(*two, "rollup").status().message(),
              HasSubstr("more than one publish-features step"));

  // A fetch-only pipeline (fill the image cache ahead of time) is valid.
  absl::StatusOr<PipelineConfig> prefetch = ParsePipelineConfig(R"(
steps:
  - {name: catalog, uses: catalog}
  - {name: fetch, uses: fetch, needs: [catalog]}
)",
                                                                "p.yaml");
  ASSERT_TRUE(prefetch.ok());
  absl::StatusOr<std::vector<PlannedStep>> plan = PlanPipeline(*prefetch, "images");
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_FALSE((*plan)[1].has_consumers);

  absl::StatusOr<PipelineConfig> hours_only =
      ParsePipelineConfig("steps:\n  - {name: c, uses: catalog, only: images}", "p.yaml");
  ASSERT_TRUE(hours_only.ok());
  EXPECT_THAT(PlanPipeline(*hours_only, "rollup").status().message(), HasSubstr("no step runs"));
}

}  // namespace
}  // namespace photosearch
