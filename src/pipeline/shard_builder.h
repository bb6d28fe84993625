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
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "artifact/repository.h"

namespace photosearch {

struct ShardBuild {
  ArtifactKey key;  // kind "shard"
  int dimension = 0;
  std::string metric = "inner_product";
  std::string index_spec = "auto";            // "auto" or an IndexSpec string
  std::map<std::string, std::string> inputs;  // provenance for the manifest
  std::string work_dir;                       // "" = the system temp directory
};

// REQUIRES: vectors.size() == ids.size() * build.dimension, rows L2-normalised.
absl::StatusOr<ArtifactManifest> BuildAndPublishShard(Repository& repository,
                                                      const ShardBuild& build,
                                                      const std::vector<std::string>& ids,
                                                      const std::vector<float>& vectors);

}  // namespace photosearch
