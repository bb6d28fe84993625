// The tombstone log: deletions as versioned, checksummed artifacts in the
// repository, shared by every process that writes deletes (ingest) and every
// process that applies them (index servers, serve, the live shard, the batch
// pipelines). Layout:
//
//   <root>/tombstones/log/<seq>        one batch of tombstones, seq = 1, 2, ...
//   <root>/tombstones/snapshot/<seq>   every tombstone of batches 1..seq, merged
//
// (<seq> is 20 decimal digits, so keys sort by number.) A batch is written once
// with PutIfAbsent under the next free number, so it exists whole or not at
// all, two writers never share a number, and numbers have no holes: a reader
// reads 1, 2, 3, ... until the next one is not there yet, which is one GET per
// poll however long the log is. A snapshot (Compact) lets a new reader, and a
// new writer looking for the end, start late instead of at batch 1. Batches
// are never deleted: a number once taken stays taken. (Dropping tombstones of
// items that no shard holds any more is not implemented.)
//
// Batch and snapshot files: "PSTOMB1\n", uint64 count, per tombstone an int64
// deleted_at, a uint32 length and the item id's bytes, then the sha256 of
// everything before as 64 hex digits (little-endian; a corrupt file is
// kDataLoss).
//
// Thread-safety: TombstoneLog is thread-safe.
#pragma once

#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "artifact/store.h"
#include "index/tombstones.h"

namespace photosearch {

inline constexpr size_t kMaxTombstoneBatch = 100'000;
inline constexpr uint64_t kMaxTombstoneFileBytes = 256ull << 20;

std::string EncodeTombstones(const std::vector<Tombstone>& tombstones);
// Bounds everything (ids 1..4096 bytes, count by the size); kDataLoss on any
// disagreement, the checksum included.
absl::StatusOr<std::vector<Tombstone>> DecodeTombstones(std::string_view data);

std::string TombstoneBatchKey(int64_t seq);
std::string TombstoneSnapshotKey(int64_t seq);

// Where a reader is in the log.
struct TombstoneCursor {
  int64_t next = 0;           // the next batch to read; 0 = not started
  int polls_since_check = 0;  // polls that found nothing since the last snapshot check
};

class TombstoneLog {
 public:
  // REQUIRES: `store` outlives the log.
  explicit TombstoneLog(Store* store) : store_(store) {}

  // Writes `batch` (1..kMaxTombstoneBatch tombstones, item ids 1..4096 bytes)
  // as the next batch; returns its number.
  absl::StatusOr<int64_t> Append(const std::vector<Tombstone>& batch);

  // Reads what is new since `cursor` into `set` and advances the cursor; a
  // cursor at 0 starts from the newest snapshot. Returns the batches read.
  absl::StatusOr<int> CatchUp(TombstoneSet* set, TombstoneCursor* cursor);

  // Writes a snapshot of `set` as of batch `through` (REQUIRES: `set` holds
  // every batch 1..through, as a cursor at through + 1 guarantees), and
  // deletes snapshots older than the previous one.
  absl::Status Compact(const TombstoneSet& set, int64_t through);

 private:
  absl::StatusOr<int64_t> NewestSnapshot();
  absl::StatusOr<int64_t> LastBatch();

  Store* const store_;
  std::mutex mu_;
  int64_t append_hint_ = 0;  // guarded by mu_: the last number written or seen taken
};

}  // namespace photosearch
