// Indexes a folder of photos into one shard and publishes it: the work behind
// `photosearch index --photos DIR --repo REPO`.
//
// Every JPEG, PNG and WebP file under the folder (recursive; hidden files and
// folders skipped) is read and decoded by worker threads while the model runs
// batched forward passes on what they queue, so decoding overlaps inference.
// A file that cannot be read or decoded is recorded with its reason and
// skipped; it never aborts the run. Item id = the path relative to the folder.
//
// Thread-safety: IndexFolder may be called from one thread at a time per
// PhotoEmbedder (it uses the embedder's batching queue).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "artifact/repository.h"
#include "model/detect_policy.h"
#include "model/detector.h"
#include "model/photo_embedder.h"

namespace photosearch {

struct IndexProgress {
  int64_t total = 0;  // photos found
  int64_t done = 0;   // embedded or failed
  int64_t failed = 0;
  double elapsed_seconds = 0;
};

struct FolderIndexOptions {
  std::string photos_dir;
  std::string index_spec = "auto";  // "auto" or an IndexSpec string
  int decode_threads = 0;           // 0 = one per core
  std::string work_dir;             // where the shard is built; "" = system temp
  // Which regions of each photo are embedded (model/detect_policy.h); with
  // kAll an item gets one vector per detected object plus the whole photo.
  DetectPolicy detect = DetectPolicy::kWhole;
  Detector* detector = nullptr;  // REQUIRED unless detect is kWhole
  // Called about once a second, and once at the end, from the calling thread.
  std::function<void(const IndexProgress&)> on_progress;
};

struct FailedPhoto {
  std::string path;  // relative to the folder
  std::string reason;
};

struct FolderIndexResult {
  ArtifactManifest manifest;  // the published shard
  int64_t indexed = 0;        // photos
  int64_t vectors = 0;        // >= indexed with detect=all
  std::vector<FailedPhoto> failures;
  int64_t ignored_files = 0;  // not JPEG/PNG/WebP by name
  double seconds = 0;
};

// Lists the photos under `dir` by relative path, sorted; counts other files.
absl::StatusOr<std::vector<std::string>> ListPhotos(const std::string& dir, int64_t* ignored);

absl::StatusOr<FolderIndexResult> IndexFolder(PhotoEmbedder& embedder, Repository& repository,
                                              const FolderIndexOptions& options);

}  // namespace photosearch
