// LiveShard: the listings of the last minutes or hours that no batch shard
// serves yet, searchable the moment they are added. An ingest process keeps
// one (fed from listing events, see src/ingest/) and serves it over the same
// gRPC IndexService as an index server, registered as the live tier.
//
// Items, not vectors: a listing (item id, listed_at, the event's time) holds
// one vector, or one per detected object; a newer listing of the same item
// replaces it, an older one is ignored, the same one again changes nothing
// (events arrive at least once). A tombstone removes the listings it hides
// (listed_at <= deleted_at) and keeps a later listing from being added; Drop
// removes what a batch shard has taken over (handover). Search answers each
// item once, with its best vector.
//
// The vectors are in a LiveIndex (mutable HNSW segments); the maps from
// items to labels and back are behind a reader-writer lock, held by a search
// only to name its hits.
//
// Thread-safety: thread-safe. Changes are serialised among themselves;
// searches run beside them.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "index/live_index.h"
#include "index/shard.h"
#include "index/tombstones.h"

namespace photosearch {

struct LiveListing {
  std::string item_id;
  int64_t listed_at = 0;  // unix seconds
  // When the event entered the stream (its entry id's milliseconds): a batch
  // shard takes the listing over only if its catalog was read after this.
  int64_t event_ms = 0;
  std::string image_url;
  std::string event_id;  // the stream entry id, for logs
};

class LiveShard {
 public:
  enum class PutResult {
    kAdded,      // a new item
    kReplaced,   // a newer listing of an item that was here
    kUnchanged,  // this listing was here already (a repeated event)
    kOlder,      // a newer listing of the item is here
    kDeleted,    // a tombstone hides this listing
  };

  static absl::StatusOr<std::unique_ptr<LiveShard>> Create(int dimension,
                                                           const LiveIndexOptions& options = {});

  // Adds `listing` with its vectors (one, or one per region), unless
  // `tombstones` (may be null) hide it. REQUIRES: vectors non-empty, each of
  // dimension() floats, L2-normalised.
  absl::StatusOr<PutResult> Put(const LiveListing& listing,
                                const std::vector<std::vector<float>>& vectors,
                                const TombstoneSet* tombstones);
  // What Put would answer, without vectors: an event whose answer is not
  // kAdded or kReplaced needs no fetch and no embedding.
  PutResult Check(const LiveListing& listing, const TombstoneSet* tombstones) const;
  // Removes the item if it was listed at or before `deleted_at`.
  bool Delete(std::string_view item_id, int64_t deleted_at);
  // Applies the changes of `set` made since the last call.
  void ApplyTombstones(const TombstoneSet& set);
  // Removes every listing for which `taken_over` is true; returns them.
  std::vector<LiveListing> Drop(const std::function<bool(const LiveListing&)>& taken_over);

  // Up to k items for each of nq queries, best first, each item once.
  // params.exclude does not apply (removed listings are gone already).
  absl::StatusOr<std::vector<std::vector<Hit>>> Search(const float* queries, int64_t nq, int k,
                                                       const SearchParams& params = {}) const;

  // Every listing held now, in no particular order.
  std::vector<LiveListing> Listings() const;
  // The vectors of a listing held now (for the log's compaction), or false.
  bool Vectors(std::string_view item_id, std::vector<std::vector<float>>* out) const;

  int dimension() const { return index_->dimension(); }
  size_t items() const;
  int64_t vectors() const { return index_->size(); }
  int64_t bytes() const { return index_->bytes(); }

 private:
  struct Item {
    LiveListing listing;
    std::vector<int64_t> labels;
  };
  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>()(s); }
  };
  explicit LiveShard(std::unique_ptr<LiveIndex> index) : index_(std::move(index)) {}
  void RemoveLocked(const std::string& item_id) ABSL_EXCLUSIVE_LOCKS_REQUIRED(write_mu_);
  void CompactLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(write_mu_);

  const std::unique_ptr<LiveIndex> index_;

  std::mutex write_mu_;  // serialises changes (and the index's writer)
  size_t tombstones_applied_ ABSL_GUARDED_BY(write_mu_) = 0;
  int64_t removed_since_compact_ ABSL_GUARDED_BY(write_mu_) = 0;

  mutable std::shared_mutex map_mu_;  // writers hold write_mu_ too
  std::unordered_map<std::string, Item, Hash, std::equal_to<>> items_ ABSL_GUARDED_BY(map_mu_);
  std::unordered_map<int64_t, const std::string*> label_item_ ABSL_GUARDED_BY(map_mu_);
  int max_vectors_per_item_ ABSL_GUARDED_BY(map_mu_) = 1;
};

}  // namespace photosearch
