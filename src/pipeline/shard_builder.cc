#include "pipeline/shard_builder.h"

#include <unistd.h>

#include <chrono>
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "base/files.h"
#include "base/status_macros.h"
#include "index/shard.h"

namespace photosearch {
absl::StatusOr<ArtifactManifest> BuildAndPublishShard(Repository& repository,
                                                      const ShardBuild& build,
                                                      const std::vector<std::string>& ids,
                                                      const std::vector<float>& vectors) {
  const int64_t n = static_cast<int64_t>(ids.size());
  if (build.dimension <= 0 || vectors.size() != static_cast<size_t>(n) * build.dimension) {
    return absl::InvalidArgumentError(absl::StrCat("shard build: ", vectors.size(), " floats for ",
                                                   n, " items of dimension ", build.dimension));
  }
  IndexSpec spec = ChooseIndexSpec(n);
  if (build.index_spec != "auto") {
    ASSIGN_OR_RETURN(spec, ParseIndexSpec(build.index_spec));
  }
  ASSIGN_OR_RETURN(std::unique_ptr<Shard> shard, Shard::Create(spec, build.dimension, n));
  RETURN_IF_ERROR(shard->Add(ids, vectors));
  TempDir build_dir(build.work_dir, "build");
  RETURN_IF_ERROR(shard->Save(build_dir.path()));

  ArtifactManifest manifest;
  manifest.dimension = build.dimension;
  manifest.metric = build.metric;
  manifest.index = spec.ToString();
  manifest.item_count = n;
  manifest.inputs = build.inputs;
  return repository.Publish(build.key, std::move(manifest),
                            {build_dir.path() + "/" + Shard::IndexFileName(spec),
                             build_dir.path() + "/" + Shard::kIdsFile});
}

}  // namespace photosearch
