// Run records: one JSON object per pipeline run at runs/<run-id>.json in the
// repository, written by every run (failed and cancelled ones too): what the
// run read, what it made, its counts, its steps and why it failed. `pipeline
// runs` lists them and `pipeline rerun` repeats one from its record.
//
// A record is written by a run, but the repository is shared, so records are
// read as outside input: ParseRunRecord checks every type and range.
//
// Thread-safety: plain values and free functions, thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "artifact/store.h"

namespace photosearch {

struct PipelineStepRecord {
  std::string name, uses, state, error, note;
  double started_seconds = 0, seconds = 0;
};

struct PipelineRun {
  std::string run_id;
  std::string status;  // succeeded | failed | cancelled
  std::string error;
  // What was run.
  std::string window, partition = "0/1", model, catalog;
  bool from_images = false;
  std::string config = "default", config_sha256;  // the pipeline config's origin and hash
  std::string mode;                               // images | rollup
  std::string finished_at;                        // RFC 3339, set when written
  // Counts.
  int64_t catalog_items = 0, embedded = 0, reused_features = 0, from_rollup = 0;
  int64_t tombstoned = 0;  // items left out of the shard because they were deleted
  int64_t failure_count = 0;
  std::vector<std::pair<std::string, std::string>> failures;  // item id, reason (first 1000)
  // Outputs.
  int64_t features_version = 0, shard_version = 0;
  bool features_reused = false, shard_reused = false;
  int64_t downloads = 0, cache_hits = 0, retries = 0, bytes_downloaded = 0;
  std::map<std::string, std::string> inputs;  // what the vectors came from (catalog, rollup_of)
  std::vector<PipelineStepRecord> steps;
};

// "runs/<run_id>.json". REQUIRES: ValidateRunId(run_id).
std::string RunRecordKey(const std::string& run_id);
// 1..200 bytes of [A-Za-z0-9._-] (what NewRunId makes; never a path).
absl::Status ValidateRunId(std::string_view run_id);

std::string RunRecordJson(const PipelineRun& run);
// kDataLoss naming the field when the record is not what RunRecordJson writes.
absl::StatusOr<PipelineRun> ParseRunRecord(std::string_view json);

absl::Status WriteRunRecord(Store& store, const PipelineRun& run);
absl::StatusOr<PipelineRun> ReadRunRecord(Store& store, const std::string& run_id);
// The run ids of every record in the store, sorted (oldest first: ids start
// with their time).
absl::StatusOr<std::vector<std::string>> ListRunIds(Store& store);

}  // namespace photosearch
