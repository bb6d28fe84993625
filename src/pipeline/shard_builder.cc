#include "pipeline/shard_builder.h"

#include <unistd.h>

#include <chrono>
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "base/files.h"
#include "base/status_macros.h"
#include "index/shard.h"

namespace photosearch {
absl::StatusOr<BuiltShard> BuildShardFiles(const ShardBuild& build,
                                           const std::vector<std::string>& ids,
                                           const std::vector<float>& vectors,
                                           const std::vector<int64_t>& listed_at) {
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
  RETURN_IF_ERROR(shard->Add(ids, vectors, listed_at));
  BuiltShard built;
  built.dir = std::make_unique<TempDir>(build.work_dir, "build");
  ASSIGN_OR_RETURN(built.files, shard->Save(built.dir->path()));
  built.manifest.dimension = build.dimension;
  built.manifest.metric = build.metric;
  built.manifest.index = spec.ToString();
  built.manifest.item_count = n;
  built.manifest.inputs = build.inputs;
  return built;
}

absl::StatusOr<ArtifactManifest> PublishBuiltShard(
    Repository& repository, const ArtifactKey& key, const BuiltShard& built,
    const std::map<std::string, std::string>& more_inputs) {
  ArtifactManifest manifest = built.manifest;
  for (const auto& [k, v] : more_inputs) manifest.inputs[k] = v;
  return repository.Publish(key, std::move(manifest), built.files);
}

absl::StatusOr<ArtifactManifest> BuildAndPublishShard(Repository& repository,
                                                      const ShardBuild& build,
                                                      const std::vector<std::string>& ids,
                                                      const std::vector<float>& vectors) {
  ASSIGN_OR_RETURN(BuiltShard built, BuildShardFiles(build, ids, vectors));
  return PublishBuiltShard(repository, build.key, built);
}

}  // namespace photosearch
