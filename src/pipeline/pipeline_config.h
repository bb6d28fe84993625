// The pipeline a run executes, as declared in YAML (`pipeline run --config`):
// named steps, each of a kind (`uses`), with the steps it takes its inputs from
// (`needs`), optional parameters (`with`) and an optional mode (`only`).
//
//   catalog: s3://bucket/catalog.jsonl   # or a path, file://, postgresql://
//   catalog_query: SELECT ...            # postgresql:// only; $1, $2 = window bounds
//   repo: s3://bucket/repo
//   model: models/mobilenetv2
//   steps:
//     - {name: catalog, uses: catalog, only: images}
//     - {name: fetch, uses: fetch, needs: [catalog], with: {concurrency: 16}}
//     ...
//
// Kinds, what they take and make (each input is one `needs` of that type; more
// needs only order steps):
//   catalog           -> catalog    the window's listings of this partition
//   model             -> model      loads the embedding model
//   fetch   catalog   -> images     image bytes, streamed into embed through the
//                                   cache; with no consumer it only fills the cache
//   embed   images, model -> vectors   (reuses the window's features when they
//                                   were made from the same catalog bytes)
//   rollup            -> vectors    from the features of the window's hours/days
//   publish-features vectors -> features
//   build   vectors   -> index      shard files, built locally
//   publish-shard index, features -> shard
// `only: images` steps run for hours (and --from-images), `only: rollup` steps
// for days and months; a need on a step that does not run is dropped.
//
// Thread-safety: plain values.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace photosearch {

struct StepConfig {
  std::string name;
  std::string uses;
  std::vector<std::string> needs;
  std::string only;                         // "", "images" or "rollup"
  std::map<std::string, std::string> with;  // scalar parameters, as written
};

struct PipelineConfig {
  std::string origin = "default";  // the file it came from
  std::string catalog, catalog_query, repo, model;
  std::vector<StepConfig> steps;
};

// A step of a selected pipeline with its inputs resolved: input type -> step.
struct PlannedStep {
  StepConfig config;
  std::string output;  // the type it makes
  std::map<std::string, std::string> input_from;
  std::vector<std::string> needs;  // after dropping steps that do not run
  bool has_consumers = false;      // some step takes its output
};

// The default pipeline: catalog -> fetch -> embed -> (publish-features, build)
// -> publish-shard for hours, rollup -> ... for days and months.
const PipelineConfig& DefaultPipelineConfig();
extern const char kDefaultPipelineYaml[];

// Parses YAML; unknown keys, kinds and parameters are errors that name them.
absl::StatusOr<PipelineConfig> ParsePipelineConfig(const std::string& yaml_text,
                                                   const std::string& origin);
absl::StatusOr<PipelineConfig> LoadPipelineConfig(const std::string& path);

// The steps that run in a mode ("images" or "rollup"), checked: inputs typed
// right, at most one publish step of each kind, no cycle.
absl::StatusOr<std::vector<PlannedStep>> PlanPipeline(const PipelineConfig& config,
                                                      const std::string& mode);

// sha256 of the config's canonical form (comments and order of keys ignored).
std::string PipelineConfigHash(const PipelineConfig& config);

// Sets parameter `key` of every step of kind `uses` (a command-line flag
// overriding the config).
void OverrideStepParam(PipelineConfig* config, const std::string& uses, const std::string& key,
                       const std::string& value);

// Typed parameters; errors name the step and the parameter.
absl::StatusOr<int64_t> IntParam(const StepConfig& step, const std::string& key,
                                 int64_t default_value, int64_t min, int64_t max);
absl::StatusOr<double> DoubleParam(const StepConfig& step, const std::string& key,
                                   double default_value, double min, double max);
std::string StringParam(const StepConfig& step, const std::string& key,
                        const std::string& default_value);

}  // namespace photosearch
