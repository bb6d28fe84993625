#include "serving/shard_manager.h"

#include <fnmatch.h>

#include <cmath>
#include <regex>

#include "absl/strings/str_cat.h"
#include "base/clock.h"
#include "base/status_macros.h"
#include "spdlog/spdlog.h"

namespace photosearch {
namespace {

constexpr int kProbeK = 10;

// A query every loaded shard must answer: the normalised all-ones vector.
absl::Status Probe(const Shard& shard, int dimension) {
  std::vector<float> probe(dimension, 1.0f / std::sqrt(static_cast<float>(dimension)));
  auto hits = shard.Search(probe.data(), 1, kProbeK);
  if (!hits.ok()) return hits.status();
  const size_t want = std::min<int64_t>(kProbeK, shard.size());
  if (hits->size() != 1 || (*hits)[0].empty() != (want == 0)) {
    return absl::DataLossError(absl::StrCat("answers a probe query with ",
                                            hits->empty() ? 0 : (*hits)[0].size(), " hits"));
  }
  return absl::OkStatus();
}

}  // namespace

std::string LoadedShard::name() const { return absl::StrCat(shard_name(), "@v", manifest.version); }

std::string LoadedShard::shard_name() const {
  return absl::StrCat(key.window, "/part-", key.partition, "-of-", key.partitions);
}

absl::StatusOr<std::vector<std::vector<Hit>>> LoadedShard::Search(const float* queries,
                                                                  int64_t nq, int k,
                                                                  const SearchParams& params) const {
  if (live) return live->Search(queries, nq, k, params);
  std::shared_ptr<const LabelSet> hidden = deleted.load();
  SearchParams filtered = params;
  filtered.exclude = hidden && !hidden->empty() ? hidden.get() : nullptr;
  return shard->Search(queries, nq, k, filtered);
}

int64_t LoadedShard::items() const {
  if (live) return static_cast<int64_t>(live->items());
  return manifest.item_count;
}

namespace {

// The listing time of a shard's labels when it does not keep them: a dated
// window's start, and for a folder index "unknown" (every delete hides it).
int64_t FallbackListedAt(const ArtifactKey& key) {
  absl::StatusOr<TimeWindow> window = ParseTimeWindow(key.window);
  return window.ok() ? window->begin : kUnknownListingTime;
}

}  // namespace

FixedShardSource::FixedShardSource(std::string model_id, const std::vector<ShardHandle>& shards)
    : model_id_(std::move(model_id)), view_([&] {
        auto view = std::make_shared<ShardSet>();
        for (const ShardHandle& s : shards) (*view)[s->shard_name()] = s;
        return view;
      }()) {}

ShardHandle LiveShardHandle(std::shared_ptr<LiveShard> live, const std::string& model_id,
                            int dimension, const std::string& window) {
  auto loaded = std::make_shared<LoadedShard>();
  loaded->key = ArtifactKey{"live", model_id, window, 0, 1};
  loaded->manifest.kind = "live";
  loaded->manifest.model_id = model_id;
  loaded->manifest.dimension = dimension;
  loaded->manifest.window = window;
  loaded->manifest.version = 1;
  loaded->manifest.index = "live:hnsw";
  loaded->live = std::move(live);
  loaded->loaded_at = NowRfc3339();
  return loaded;
}

bool ShardSelection::Selects(const ArtifactKey& key, int64_t now) const {
  if (!windows.empty()) {
    bool any = false;
    for (const std::string& glob : windows) any |= ::fnmatch(glob.c_str(), key.window.c_str(), 0) == 0;
    if (!any) return false;
  }
  if (partition.count > 0 &&
      (key.partitions != partition.count || key.partition != partition.index)) {
    return false;
  }
  if (retention_seconds > 0 && key.window != "all") {
    auto window = ParseTimeWindow(key.window);
    if (window.ok() && window->end < now - retention_seconds) return false;
  }
  return true;
}

absl::StatusOr<int64_t> ParseDurationSeconds(const std::string& text) {
  static const std::regex kDuration(R"((\d{1,6})([smhd]?))");
  std::smatch m;
  if (!std::regex_match(text, m, kDuration)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "duration '", text.substr(0, 32), "' must be a number with s, m, h or d (e.g. 48h)"));
  }
  const int64_t n = std::stoll(m[1]);
  const std::string unit = m[2];
  return n * (unit == "m" ? 60 : unit == "h" ? 3600 : unit == "d" ? 86400 : 1);
}

ShardManager::ShardManager(Repository* repository, std::string model_id, int dimension,
                           std::string scratch_dir, ShardSelection selection)
    : repository_(repository),
      model_id_(std::move(model_id)),
      dimension_(dimension),
      scratch_dir_(std::move(scratch_dir)),
      selection_(std::move(selection)) {}

ShardManager::~ShardManager() {
  poller_.Stop();
}

absl::StatusOr<ShardHandle> ShardManager::Load(const ArtifactKey& key, int64_t version,
                                               int64_t served_bytes) {
  ASSIGN_OR_RETURN(ArtifactManifest manifest, repository_->ReadManifest(key, version));
  const std::string where = absl::StrCat(key.Prefix(), version);
  int64_t bytes = 0;
  for (const FileEntry& file : manifest.files) bytes += static_cast<int64_t>(file.size_bytes);
  if (selection_.max_memory_bytes > 0 && served_bytes + bytes > selection_.max_memory_bytes) {
    return absl::ResourceExhaustedError(absl::StrCat("it needs ", bytes, " bytes; ", served_bytes,
                                                     " are served and --max-memory is ",
                                                     selection_.max_memory_bytes));
  }
  if (manifest.model_id != model_id_) {
    return absl::FailedPreconditionError(
        absl::StrCat(where, " is of model ", manifest.model_id, ", this server serves ", model_id_));
  }
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
  if (absl::Status probed = Probe(**shard, dimension_); !probed.ok()) {
    return Annotate(probed, absl::StrCat(where, " failed its probe query"));
  }
  auto loaded = std::make_shared<LoadedShard>();
  if (tombstones_) {
    // The whole set now, off the locks; what arrives meanwhile is caught up
    // before the shard is served.
    loaded->tombstones_applied = tombstones_->set().changes();
    loaded->deleted.store(std::make_shared<const LabelSet>(
        DeletedLabels(**shard, tombstones_->set(), FallbackListedAt(key))));
  }
  loaded->key = key;
  loaded->manifest = std::move(manifest);
  loaded->shard = std::move(*shard);
  loaded->loaded_at = NowRfc3339();
  loaded->bytes = bytes;
  return ShardHandle(std::move(loaded));
}

absl::Status ShardManager::Refresh() {
  std::lock_guard<std::mutex> refresh_lock(refresh_mu_);
  ASSIGN_OR_RETURN(std::vector<ArtifactVersions> artifacts,
                   repository_->ListArtifacts("shard", model_id_));
  std::map<std::string, int64_t> served_versions;
  int64_t served_bytes = 0;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& [prefix, handle] : served_) {
      served_versions[prefix] = handle->manifest.version;
      served_bytes += handle->bytes;
    }
  }
  const int64_t now = NowUnixSeconds();
  std::vector<std::string> errors;
  std::map<std::string, ShardHandle> loaded;
  std::map<std::string, bool> present;
  for (const ArtifactVersions& artifact : artifacts) {
    if (!selection_.Selects(artifact.key, now)) continue;
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
      // The version it replaces is freed after the swap: not counted.
      int64_t replaced = 0;
      {
        std::lock_guard<std::mutex> lock(mu_);
        if (auto s = served_.find(prefix); s != served_.end()) replaced = s->second->bytes;
      }
      auto handle = Load(artifact.key, *it, served_bytes - replaced);
      if (handle.ok()) {
        served_bytes += (*handle)->bytes - replaced;
        spdlog::info("loaded shard {} ({} items, {}) from {}", (*handle)->name(),
                     (*handle)->manifest.item_count, (*handle)->manifest.index, repository_->url());
        loaded[prefix] = std::move(*handle);
        break;
      }
      std::string error = absl::StrCat("refused ", version_key, ": ", handle.status().message());
      spdlog::error("{}", error);
      // Over the memory budget is not a property of the version: try again
      // next time (something else may have been unloaded).
      if (handle.status().code() != absl::StatusCode::kResourceExhausted) {
        refused_[version_key] = error;
      }
      errors.push_back(std::move(error));
    }
  }
  {
    std::lock_guard<std::mutex> apply(apply_mu_);
    for (auto& [prefix, handle] : loaded) CatchUpTombstones(*handle);
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& [prefix, handle] : loaded) served_[prefix] = std::move(handle);
    for (auto it = served_.begin(); it != served_.end();) {
      if (!present.count(it->first)) {
        spdlog::info("unloading shard {}: no longer in the repository or not selected",
                     it->second->name());
        it = served_.erase(it);
      } else {
        ++it;
      }
    }
    last_errors_ = errors;
    Publish();
  }
  if (!errors.empty()) return absl::DataLossError(errors.front());
  return absl::OkStatus();
}

void ShardManager::StartPolling(int interval_ms) {
  poller_.Start(interval_ms, [this] { (void)Refresh(); });  // errors are logged by Refresh
}

void ShardManager::UseTombstones(TombstoneFeed* feed) {
  tombstones_ = feed;
  feed->AddListener([this](const TombstoneSet&) {
    std::lock_guard<std::mutex> apply(apply_mu_);
    for (const auto& [name, handle] : *View()) CatchUpTombstones(*handle);
  });
}

void ShardManager::CatchUpTombstones(const LoadedShard& shard) {
  if (!tombstones_ || !shard.shard) return;
  const TombstoneSet& set = tombstones_->set();
  const size_t changes = set.changes();
  if (shard.tombstones_applied >= changes) return;
  std::vector<Tombstone> fresh = set.Since(shard.tombstones_applied);
  std::shared_ptr<const LabelSet> before = shard.deleted.load();
  LabelSet after = DeletedLabels(*shard.shard, fresh, FallbackListedAt(shard.key), before.get());
  shard.tombstones_applied += fresh.size();
  if (after.count() != before->count()) {
    spdlog::info("shard {}: {} labels hidden by tombstones", shard.name(), after.count());
    shard.deleted.store(std::make_shared<const LabelSet>(std::move(after)));
  }
}

void ShardManager::Publish() {
  auto view = std::make_shared<ShardSet>();
  for (const auto& [prefix, handle] : served_) (*view)[handle->shard_name()] = handle;
  view_.store(std::move(view));
}

std::vector<ShardHandle> ShardManager::Snapshot() const {
  std::shared_ptr<const ShardSet> view = View();
  std::vector<ShardHandle> out;
  out.reserve(view->size());
  for (const auto& [name, handle] : *view) out.push_back(handle);
  return out;
}

std::vector<std::string> ShardManager::LastErrors() const {
  std::lock_guard<std::mutex> lock(mu_);
  return last_errors_;
}

}  // namespace photosearch
