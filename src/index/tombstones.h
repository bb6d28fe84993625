// Tombstones: which listings are deleted (sold, withdrawn). A tombstone
// (item id, deleted_at) hides every listing of the item whose listed_at is at
// or before deleted_at, and none after: a delete older than a listing does not
// hide it, and an item listed again after its delete is searchable again.
// Tombstones are idempotent and independent of arrival order: the set keeps
// the latest deleted_at per item, so applying a batch twice, or two batches in
// either order, gives the same set.
//
// Shards are immutable, so deletes are applied inside the search: the labels a
// tombstone hides in a shard (DeletedLabels) are skipped by the index walk, and
// a query still gets k results. The set records its changes in order, so a
// reader that applied the first N applies only what came after (Since).
//
// Where tombstones come from: artifact/tombstone_log.h (the repository).
//
// Thread-safety: TombstoneSet is thread-safe (one writer and many readers;
// readers take a shared lock).
#pragma once

#include <cstdint>
#include <limits>
#include <shared_mutex>
#include <string>
#include <functional>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "index/label_set.h"
#include "index/shard.h"

namespace photosearch {

struct Tombstone {
  std::string item_id;
  int64_t deleted_at = 0;  // unix seconds

  bool operator==(const Tombstone&) const = default;
};

// A listing time that every tombstone hides: labels of a shard that does not
// know when its items were listed (a folder index).
inline constexpr int64_t kUnknownListingTime = std::numeric_limits<int64_t>::min();

class TombstoneSet {
 public:
  // Merges `batch`; returns how many entries changed the set (an item not
  // deleted before, or deleted later than recorded).
  int Add(const std::vector<Tombstone>& batch);

  // Whether a listing of `item_id` listed at `listed_at` is deleted.
  bool Hides(std::string_view item_id, int64_t listed_at) const;
  // The latest deleted_at of `item_id`, or false when it was never deleted.
  bool DeletedAt(std::string_view item_id, int64_t* deleted_at) const;

  // Changes so far, in order: Since(n) returns those after the first n,
  // each with the item's deleted_at now.
  size_t changes() const;
  std::vector<Tombstone> Since(size_t from) const;
  // Every deleted item with its latest deleted_at, sorted by item id.
  std::vector<Tombstone> All() const;
  size_t items() const;

 private:
  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>()(s); }
  };
  mutable std::shared_mutex mu_;
  std::unordered_map<std::string, int64_t, Hash, std::equal_to<>> latest_;  // guarded by mu_
  // Items in the order they changed (an item appears once per change).
  std::vector<const std::string*> changed_;  // guarded by mu_; keys of latest_
};

// The labels of `shard` that `tombstones` hide, given each label's listing
// time: shard.listed_at() when the shard has it, else `fallback_listed_at`
// for every label (a dated window's start, or kUnknownListingTime).
LabelSet DeletedLabels(const Shard& shard, const std::vector<Tombstone>& tombstones,
                       int64_t fallback_listed_at, const LabelSet* base = nullptr);
// The same over the whole set: looks up each label's item when the shard is
// smaller than the set, else each tombstone's labels.
LabelSet DeletedLabels(const Shard& shard, const TombstoneSet& tombstones,
                       int64_t fallback_listed_at);

}  // namespace photosearch
