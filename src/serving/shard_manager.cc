#include "serving/shard_manager.h"

#include "absl/strings/str_cat.h"
#include "base/clock.h"
#include "base/status_macros.h"
#include "spdlog/spdlog.h"

namespace photosearch {
std::string LoadedShard::name() const {
  return absl::StrCat(key.window, "/part-", key.partition, "-of-", key.partitions, "@v",
                      manifest.version);
}

ShardManager::ShardManager(Repository* repository, std::string model_id, int dimension,
                           std::string scratch_dir)
    : repository_(repository),
      model_id_(std::move(model_id)),
      dimension_(dimension),
      scratch_dir_(std::move(scratch_dir)) {}

ShardManager::~ShardManager() {
  {
    std::lock_guard<std::mutex> lock(poll_mu_);
    stopping_ = true;
  }
  poll_cv_.notify_all();
  if (poller_.joinable()) poller_.join();
}

absl::StatusOr<ShardHandle> ShardManager::Load(const ArtifactKey& key, int64_t version) {
  ASSIGN_OR_RETURN(ArtifactManifest manifest, repository_->ReadManifest(key, version));
  const std::string where = absl::StrCat(key.Prefix(), version);
  if (manifest.dimension != dimension_) {
    return absl::FailedPreconditionError(
        absl::StrCat(where, " has dimension ", manifest.dimension, ", the model has ", dimension_));
  }
  auto spec = ParseIndexSpec(manifest.index);
  if (!spec.ok()) return Annotate(spec.status(), where);
  ASSIGN_OR_RETURN(std::string dir, repository_->FetchVerified(key, manifest, scratch_dir_));
  auto shard = Shard::Open(dir, *spec, manifest.dimension);
  if (!shard.ok()) return Annotate(shard.status(), where);
  if ((*shard)->size() != manifest.item_count) {
    return absl::DataLossError(absl::StrCat(where, " holds ", (*shard)->size(),
                                            " items, its manifest says ", manifest.item_count));
  }
  auto loaded = std::make_shared<LoadedShard>();
  loaded->key = key;
  loaded->manifest = std::move(manifest);
  loaded->shard = std::move(*shard);
  loaded->loaded_at = NowRfc3339();
  return ShardHandle(std::move(loaded));
}

absl::Status ShardManager::Refresh() {
  std::lock_guard<std::mutex> refresh_lock(refresh_mu_);
  ASSIGN_OR_RETURN(std::vector<ArtifactVersions> artifacts,
                   repository_->ListArtifacts("shard", model_id_));
  std::map<std::string, int64_t> served_versions;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& [prefix, handle] : served_) served_versions[prefix] = handle->manifest.version;
  }
  std::vector<std::string> errors;
  std::map<std::string, ShardHandle> loaded;
  std::map<std::string, bool> present;
  for (const ArtifactVersions& artifact : artifacts) {
    const std::string prefix = artifact.key.Prefix();
    present[prefix] = true;
    auto served = served_versions.find(prefix);
    int64_t floor = served == served_versions.end() ? 0 : served->second;
    // Newest first; stop at the served version: never go backwards.
    for (auto it = artifact.versions.rbegin(); it != artifact.versions.rend() && *it > floor;
         ++it) {
      const std::string version_key = absl::StrCat(prefix, *it);
      if (auto refused = refused_.find(version_key); refused != refused_.end()) {
        errors.push_back(refused->second);  // refused before: do not fetch it again
        continue;
      }
      auto handle = Load(artifact.key, *it);
      if (handle.ok()) {
        spdlog::info("loaded shard {} ({} items, {}) from {}", (*handle)->name(),
                     (*handle)->manifest.item_count, (*handle)->manifest.index, repository_->url());
        loaded[prefix] = std::move(*handle);
        break;
      }
      std::string error = absl::StrCat("refused ", version_key, ": ", handle.status().message());
      spdlog::error("{}", error);
      refused_[version_key] = error;
      errors.push_back(std::move(error));
    }
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& [prefix, handle] : loaded) served_[prefix] = std::move(handle);
    for (auto it = served_.begin(); it != served_.end();) {
      if (!present.count(it->first)) {
        spdlog::info("unloading shard {}: no longer in the repository", it->second->name());
        it = served_.erase(it);
      } else {
        ++it;
      }
    }
    last_errors_ = errors;
  }
  if (!errors.empty()) return absl::DataLossError(errors.front());
  return absl::OkStatus();
}

void ShardManager::StartPolling(int interval_ms) {
  poller_ = std::thread([this, interval_ms] {
    std::unique_lock<std::mutex> lock(poll_mu_);
    while (!poll_cv_.wait_for(lock, std::chrono::milliseconds(interval_ms),
                              [this] { return stopping_; })) {
      lock.unlock();
      absl::Status status = Refresh();  // errors are logged by Refresh
      (void)status;
      lock.lock();
    }
  });
}

std::vector<ShardHandle> ShardManager::Snapshot() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<ShardHandle> out;
  out.reserve(served_.size());
  for (const auto& [prefix, handle] : served_) out.push_back(handle);
  return out;
}

std::vector<std::string> ShardManager::LastErrors() const {
  std::lock_guard<std::mutex> lock(mu_);
  return last_errors_;
}

}  // namespace photosearch
