// Builds a shard from embedded items and publishes it as the next version of a
// shard artifact: the last step of `photosearch index` and of the pipelines.
//
// The index is chosen by size (ChooseIndexSpec) unless a spec is given; the
// shard's files are written to a private build directory under `work_dir`
// (removed afterwards) and then published, manifest last (Repository::Publish).
//
// Thread-safety: independent calls may run concurrently.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "artifact/repository.h"
#include "base/files.h"

namespace photosearch {

struct ShardBuild {
  ArtifactKey key;  // kind "shard"
  int dimension = 0;
  std::string metric = "inner_product";
  std::string index_spec = "auto";            // "auto" or an IndexSpec string
  std::map<std::string, std::string> inputs;  // provenance for the manifest
  std::string work_dir;                       // "" = the system temp directory
};

// A shard built but not yet published: its files in a private directory,
// removed when this is destroyed.
struct BuiltShard {
  std::unique_ptr<TempDir> dir;
  std::vector<std::string> files;
  ArtifactManifest manifest;  // without version and checksums
};

// Builds the index and writes its files (the `build` step of a pipeline).
// REQUIRES: vectors.size() == ids.size() * build.dimension, rows L2-normalised;
// listed_at empty (unknown: a folder index) or one per id.
absl::StatusOr<BuiltShard> BuildShardFiles(const ShardBuild& build,
                                           const std::vector<std::string>& ids,
                                           const std::vector<float>& vectors,
                                           const std::vector<int64_t>& listed_at = {});

// Publishes a built shard as the next version of `key`, `more_inputs` added to
// its provenance (the `publish-shard` step).
absl::StatusOr<ArtifactManifest> PublishBuiltShard(
    Repository& repository, const ArtifactKey& key, const BuiltShard& built,
    const std::map<std::string, std::string>& more_inputs = {});

// BuildShardFiles, then PublishBuiltShard.
absl::StatusOr<ArtifactManifest> BuildAndPublishShard(Repository& repository,
                                                      const ShardBuild& build,
                                                      const std::vector<std::string>& ids,
                                                      const std::vector<float>& vectors);

}  // namespace photosearch
