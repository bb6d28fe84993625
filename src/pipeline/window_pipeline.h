// One pipeline run for one time window and partition: the batch job behind
// `photosearch pipeline run`. The run executes a PipelineConfig (the default,
// or YAML) as a DAG of steps (pipeline/dag.h); see pipeline_config.h for the
// step kinds. The default for an hour (or any window built from images):
//
//   catalog ──> fetch ──> embed ──┬──> publish-features ──┐
//   model ──────────────────┘     └──> build ─────────────┴──> publish-shard
//
// (fetched images stream into the embedder; the model loads while the catalog
// is read; features upload while the shard builds). A day is rolled up from
// its 24 hourly feature artifacts, a month from its daily ones (newest version
// of each; nothing downloaded or embedded again); a missing input stops the
// run and is named, unless from_images is set. A window with no listings
// publishes empty artifacts, so that a rollup can tell "nothing happened" from
// "not run".
//
// Re-running resumes: vectors carry a source key (model, catalog URL and
// bytes, partition; or the exact child versions of a rollup). If the window's
// newest features have the same source key they are reused (no fetch, no
// embed); if its newest shard does, nothing is built or published again.
// Every run writes runs/<run-id>.json into the repository.
//
// Thread-safety: one run at a time per PhotoEmbedder.
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <string>

#include "absl/status/statusor.h"
#include "artifact/repository.h"
#include "artifact/run_record.h"
#include "model/photo_embedder.h"
#include "pipeline/catalog.h"
#include "fetch/fetcher.h"
#include "pipeline/pipeline_config.h"

namespace photosearch {

struct PipelineProgress {
  std::string step;  // the step's name
  int64_t total = 0, done = 0, failed = 0;
  double elapsed_seconds = 0;
};

// Settings of a run. The config's step parameters (`with`) override the
// defaults given here (max_failed_fraction, index_spec, fetch).
struct PipelineOptions {
  PipelineConfig config = DefaultPipelineConfig();
  std::string catalog;  // path, file://, s3:// or postgresql:// (needed unless rolling up)
  std::string catalog_query = kDefaultPostgresQuery;  // postgresql://: $1, $2 = window bounds
  std::string window;                                 // hour/..., day/..., month/...
  Partition partition;
  bool from_images = false;           // build a day/month from the catalog, not rollups
  double max_failed_fraction = 0.05;  // of the window's images; over it the run fails
  std::string index_spec = "auto";
  std::string detect = "whole";  // embed's regions: whole | primary | all (model/detect_policy.h)
  std::string detector;          // detector manifest, for detect != whole
  std::string work_dir;          // shard builds; "" = system temp
  FetchOptions fetch;
  // Called from the steps' threads, one call at a time.
  std::function<void(const PipelineProgress&)> on_progress;
  const std::atomic<bool>* cancelled = nullptr;  // SIGINT: stop, publish nothing
};

// The model a run embeds with: its manifest names the artifacts; the embedder
// is given, or loaded by the `model` step (only when images are embedded).
struct PipelineModel {
  ModelManifest manifest;
  PhotoEmbedder* embedder = nullptr;
  std::function<absl::StatusOr<std::unique_ptr<PhotoEmbedder>>()> load;
};

// Runs the window; the returned record is also written to runs/<run_id>.json
// (failed and cancelled runs too). Fails only when the record cannot be made
// at all (bad window, repository unreachable); a failed run is a record with
// status "failed" and the error.
absl::StatusOr<PipelineRun> RunPipeline(const PipelineModel& model, Repository& repository,
                                        const PipelineOptions& options);
// With an embedder already loaded.
absl::StatusOr<PipelineRun> RunPipeline(PhotoEmbedder& embedder, Repository& repository,
                                        const PipelineOptions& options);

}  // namespace photosearch
