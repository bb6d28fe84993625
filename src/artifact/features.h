// Feature artifacts: the vectors of one window and partition as they were
// embedded, before any index is built. Hours publish them from images; days
// and months roll up from them (no image fetched or embedded again); the CLI
// and the ingest read them back. Files of a version:
//
//   ids.bin        the item id of each row (index/shard.h's ids format)
//   vectors.f32    rows x dimension little-endian floats, L2-normalised
//   listed_at.i64  each row's listed_at, unix seconds (index/shard.h's times
//                  format); absent in artifacts written before it existed
//
// An item embedded per detected object has several consecutive rows.
//
// Thread-safety: free functions over values, thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "artifact/repository.h"

namespace photosearch {

inline constexpr char kFeatureVectorsFile[] = "vectors.f32";
inline constexpr char kFeatureListedAtFile[] = "listed_at.i64";

struct FeatureSet {
  std::vector<std::string> ids;    // one per row
  std::vector<float> vectors;      // ids.size() * dimension
  std::vector<int64_t> listed_at;  // one per row, or empty when unknown

  size_t rows() const { return ids.size(); }
  // Appends row `row` of `from` (dimension floats).
  void AppendRow(const FeatureSet& from, size_t row, int dimension);
};

// Writes the files of `features` into `dir`; returns their paths.
// REQUIRES: vectors.size() == ids.size() * dimension; listed_at empty or one per row.
absl::StatusOr<std::vector<std::string>> WriteFeatureFiles(const std::string& dir,
                                                           const FeatureSet& features,
                                                           int dimension);
// Reads what WriteFeatureFiles wrote (listed_at stays empty without its file).
// kDataLoss when the files disagree with each other or with `dimension`.
absl::StatusOr<FeatureSet> ReadFeatureFiles(const std::string& dir, int dimension);

// Fetches a published feature version (verified) into a scratch directory
// under `work_dir` and reads it. kFailedPrecondition when its dimension is
// not `dimension`.
absl::StatusOr<FeatureSet> LoadFeatures(Repository& repository, const ArtifactKey& key,
                                        const ArtifactManifest& manifest, int dimension,
                                        const std::string& work_dir);

// Publishes `features` as the next version of `key` (kind "feature");
// `manifest` supplies dimension, metric and inputs; item_count is set here.
absl::StatusOr<ArtifactManifest> PublishFeatures(Repository& repository, const ArtifactKey& key,
                                                 ArtifactManifest manifest,
                                                 const FeatureSet& features,
                                                 const std::string& work_dir);

}  // namespace photosearch
