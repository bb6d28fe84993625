// ShardManager: keeps the newest good version of every shard of one model
// loaded from the artifact repository, and hands out handles to them.
//
// Vocabulary after TF Serving: the repository is the version source; Refresh()
// is the loader (fetch, verify checksums, open, all beside the served version);
// the swap is one pointer exchange under a mutex; a handle is a shared_ptr, so a
// request that holds one keeps that version alive across a swap, and the old
// version is freed when its last request finishes.
//
// A newer version that fails to load (corrupt, truncated, wrong model or
// dimension, no answer to a probe query) is refused with a logged error and the
// served version stays; nothing already served is lost.
//
// A ShardSelection narrows what is loaded (an index server serves some windows
// of some partition): window globs, one partition, a retention that drops old
// windows, and a memory budget that refuses a shard that would not fit.
//
// Thread-safety: all methods are thread-safe; Refresh calls are serialised.
// The served set is published as an immutable map behind an atomic pointer, so
// the search path (View, Find) takes no lock.
#pragma once

#include <atomic>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "base/periodic.h"
#include "absl/status/status.h"
#include "artifact/repository.h"
#include "artifact/window.h"
#include "index/shard.h"
#include "index/tombstones.h"
#include "serving/live_shard.h"
#include "serving/tombstone_feed.h"

namespace photosearch {

// One served shard version: an immutable shard from the repository, or the
// live shard of an ingest process. Immutable once loaded but for the labels
// that tombstones hide, which are replaced whole as deletes arrive.
struct LoadedShard {
  ArtifactKey key;
  ArtifactManifest manifest;
  std::unique_ptr<Shard> shard;     // an immutable shard, or
  std::shared_ptr<LiveShard> live;  // the live shard (key.window "live/<name>")
  std::string loaded_at;  // RFC 3339 UTC
  int64_t bytes = 0;      // the artifact's files
  // The labels of `shard` that tombstones hide (never null once served), and
  // how many of the TombstoneSet's changes they reflect; written only by the
  // ShardManager applying tombstones.
  mutable std::atomic<std::shared_ptr<const LabelSet>> deleted{std::make_shared<const LabelSet>()};
  mutable size_t tombstones_applied = 0;

  // "<window>/part-<p>-of-<P>@v<version>", for responses and logs.
  std::string name() const;
  // "<window>/part-<p>-of-<P>": the shard, whatever its version.
  std::string shard_name() const;
  // Up to k hits per query, tombstoned items left out (k still come back).
  absl::StatusOr<std::vector<std::vector<Hit>>> Search(const float* queries, int64_t nq, int k,
                                                       const SearchParams& params) const;
  // Items searchable now (a live shard's change as it is fed).
  int64_t items() const;
};

using ShardHandle = std::shared_ptr<const LoadedShard>;
// The served shards by shard_name().
using ShardSet = std::map<std::string, ShardHandle>;

struct ShardSelection {
  // Window globs (fnmatch: "hour/*", "day/2026-11-*", "month/*", "all");
  // empty selects every window.
  std::vector<std::string> windows;
  // Only this partition of windows split into `count` partitions; count 0: any.
  Partition partition{0, 0};
  // Windows that ended more than this many seconds ago are not loaded, and
  // unloaded once they age out; 0 keeps every window.
  int64_t retention_seconds = 0;
  // A version whose files would take the served bytes over this is refused;
  // 0: no limit.
  int64_t max_memory_bytes = 0;

  bool Selects(const ArtifactKey& key, int64_t now) const;
};

// Parses --select/--partition/--retention values ("48h", "7d", "30m", "0").
absl::StatusOr<int64_t> ParseDurationSeconds(const std::string& text);

// What an index server serves: one model's shards, as an immutable view.
// ShardManager (the repository's shards) and the ingest (its live shard)
// implement it.
class ShardSource {
 public:
  virtual ~ShardSource() = default;
  virtual const std::string& model_id() const = 0;
  // The shards served now; lock-free.
  virtual std::shared_ptr<const ShardSet> View() const = 0;
};

// A fixed set of shards (an ingest serves its live shard so).
class FixedShardSource : public ShardSource {
 public:
  FixedShardSource(std::string model_id, const std::vector<ShardHandle>& shards);
  const std::string& model_id() const override { return model_id_; }
  std::shared_ptr<const ShardSet> View() const override { return view_; }

 private:
  const std::string model_id_;
  const std::shared_ptr<const ShardSet> view_;
};

// `live` as a served shard named `window` ("live/<name>", partition 0 of 1,
// version 1).
ShardHandle LiveShardHandle(std::shared_ptr<LiveShard> live, const std::string& model_id,
                            int dimension, const std::string& window);

class ShardManager : public ShardSource {
 public:
  // REQUIRES: `repository` outlives the manager.
  ShardManager(Repository* repository, std::string model_id, int dimension,
               std::string scratch_dir, ShardSelection selection = {});
  ~ShardManager();

  // Loads what is new in the repository; returns the first error met (after
  // trying everything). Shards whose artifact disappeared are unloaded.
  absl::Status Refresh();

  // Calls Refresh every `interval_ms` on a background thread until destroyed.
  void StartPolling(int interval_ms);

  // Hides what `feed`'s tombstones delete in every shard served, from now on
  // (shards loaded later get the whole set before they are served).
  // REQUIRES: called before Refresh; `feed` outlives the manager.
  void UseTombstones(TombstoneFeed* feed);

  // The shards served now.
  std::vector<ShardHandle> Snapshot() const;
  // The same, as an immutable map; lock-free.
  std::shared_ptr<const ShardSet> View() const override { return view_.load(); }

  // Errors of the last Refresh, one line per artifact (empty when all loaded).
  std::vector<std::string> LastErrors() const;

  const std::string& model_id() const override { return model_id_; }

 private:
  absl::StatusOr<ShardHandle> Load(const ArtifactKey& key, int64_t version,
                                   int64_t served_bytes);
  void Publish() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Brings `shard`'s deleted labels up to the feed's set.
  void CatchUpTombstones(const LoadedShard& shard) ABSL_EXCLUSIVE_LOCKS_REQUIRED(apply_mu_);

  // Constant after construction.
  Repository* const repository_;
  const std::string model_id_;
  const int dimension_;
  const std::string scratch_dir_;
  const ShardSelection selection_;

  TombstoneFeed* tombstones_ = nullptr;  // set before the first Refresh

  std::mutex refresh_mu_;  // serialises Refresh
  // Serialises tombstone application; taken before mu_.
  std::mutex apply_mu_ ABSL_ACQUIRED_BEFORE(mu_);
  // Versions that failed to load, with why: not fetched again.
  std::map<std::string, std::string> refused_ ABSL_GUARDED_BY(refresh_mu_);

  mutable std::mutex mu_;
  std::map<std::string, ShardHandle> served_ ABSL_GUARDED_BY(mu_);  // by key prefix
  std::vector<std::string> last_errors_ ABSL_GUARDED_BY(mu_);
  std::atomic<std::shared_ptr<const ShardSet>> view_{std::make_shared<const ShardSet>()};

  PeriodicThread poller_;  // last: stopped first
};

}  // namespace photosearch
