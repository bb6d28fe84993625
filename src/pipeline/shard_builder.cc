#include "pipeline/shard_builder.h"

#include <unistd.h>

#include <chrono>
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "index/shard.h"

namespace photosearch {
namespace {

namespace fs = std::filesystem;

// Removes a directory tree when it goes out of scope.
class TempDir {
 public:
  explicit TempDir(fs::path path) : path_(std::move(path)) {}
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

}  // namespace

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
  fs::path base = build.work_dir.empty() ? fs::temp_directory_path() : fs::path(build.work_dir);
  TempDir build_dir(base /
                    absl::StrCat("photosearch-build-", ::getpid(), "-",
                                 std::chrono::steady_clock::now().time_since_epoch().count()));
  RETURN_IF_ERROR(shard->Save(build_dir.path().string()));

  ArtifactManifest manifest;
  manifest.dimension = build.dimension;
  manifest.metric = build.metric;
  manifest.index = spec.ToString();
  manifest.item_count = n;
  manifest.inputs = build.inputs;
  return repository.Publish(build.key, std::move(manifest),
                            {(build_dir.path() / Shard::IndexFileName(spec)).string(),
                             (build_dir.path() / Shard::kIdsFile).string()});
}

}  // namespace photosearch
