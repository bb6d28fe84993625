#include "artifact/tombstone_log.h"

#include <algorithm>
#include <charconv>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "base/status_macros.h"

namespace photosearch {
namespace {

constexpr uint32_t kMaxIdBytes = 4096;
constexpr char kBatchPrefix[] = "tombstones/log/";
constexpr char kSnapshotPrefix[] = "tombstones/snapshot/";
// A poll that finds nothing checks for a newer snapshot this often (its next
// batch may have been compacted away while it was not looking).
constexpr int kPollsPerSnapshotCheck = 20;
constexpr int kMaxAppendAttempts = 1000;

// The number at the end of a log or snapshot key, or 0.
int64_t SeqOf(std::string_view key, std::string_view prefix) {
  if (key.substr(0, prefix.size()) != prefix) return 0;
  key.remove_prefix(prefix.size());
  int64_t seq = 0;
  auto [end, ec] = std::from_chars(key.data(), key.data() + key.size(), seq);
  return ec == std::errc() && end == key.data() + key.size() && key.size() == 20 ? seq : 0;
}

absl::Status ValidateBatch(const std::vector<Tombstone>& batch) {
  if (batch.empty() || batch.size() > kMaxTombstoneBatch) {
    return absl::InvalidArgumentError(
        absl::StrCat("a tombstone batch holds 1..", kMaxTombstoneBatch, ", not ", batch.size()));
  }
  for (const Tombstone& t : batch) {
    if (t.item_id.empty() || t.item_id.size() > kMaxIdBytes) {
      return absl::InvalidArgumentError(absl::StrCat("tombstone item id must be 1..", kMaxIdBytes,
                                                     " bytes, got ", t.item_id.size()));
    }
  }
  return absl::OkStatus();
}

}  // namespace

std::string TombstoneBatchKey(int64_t seq) { return absl::StrFormat("%s%020d", kBatchPrefix, seq); }

std::string TombstoneSnapshotKey(int64_t seq) {
  return absl::StrFormat("%s%020d", kSnapshotPrefix, seq);
}

absl::StatusOr<int64_t> TombstoneLog::NewestSnapshot() {
  ASSIGN_OR_RETURN(std::vector<std::string> keys, store_->List(kSnapshotPrefix));
  int64_t newest = 0;
  for (const std::string& key : keys) newest = std::max(newest, SeqOf(key, kSnapshotPrefix));
  return newest;
}

absl::StatusOr<int64_t> TombstoneLog::LastBatch() {
  // Batches are never deleted and have no holes: probe forward from the
  // newest snapshot (at most a compaction interval of GETs, no listing).
  ASSIGN_OR_RETURN(int64_t last, NewestSnapshot());
  while (true) {
    absl::StatusOr<std::string> bytes = store_->Get(TombstoneBatchKey(last + 1), kMaxTombstoneFileBytes);
    if (absl::IsNotFound(bytes.status())) return last;
    if (!bytes.ok()) return bytes.status();
    ++last;
  }
}

absl::StatusOr<int64_t> TombstoneLog::Append(const std::vector<Tombstone>& batch) {
  RETURN_IF_ERROR(ValidateBatch(batch));
  const std::string bytes = EncodeTombstones(batch);
  std::lock_guard<std::mutex> lock(mu_);
  if (append_hint_ == 0) {
    ASSIGN_OR_RETURN(append_hint_, LastBatch());
  }
  for (int attempt = 0; attempt < kMaxAppendAttempts; ++attempt) {
    const int64_t seq = append_hint_ + 1;
    absl::Status put = store_->PutIfAbsent(TombstoneBatchKey(seq), bytes);
    append_hint_ = seq;  // taken now, by this writer or another
    if (put.ok()) return seq;
    if (!absl::IsAlreadyExists(put)) {
      append_hint_ = seq - 1;
      return Annotate(put, "writing tombstones");
    }
    if (attempt == 100) {  // far behind other writers: look again
      ASSIGN_OR_RETURN(append_hint_, LastBatch());
    }
  }
  return absl::AbortedError("writing tombstones: no free batch number after 1000 attempts");
}

absl::StatusOr<int> TombstoneLog::CatchUp(TombstoneSet* set, TombstoneCursor* cursor) {
  int read = 0;
  auto from_snapshot = [&](int64_t snapshot) -> absl::Status {
    ASSIGN_OR_RETURN(std::string bytes,
                     store_->Get(TombstoneSnapshotKey(snapshot), kMaxTombstoneFileBytes));
    absl::StatusOr<std::vector<Tombstone>> tombstones = DecodeTombstones(bytes);
    if (!tombstones.ok()) return Annotate(tombstones.status(), TombstoneSnapshotKey(snapshot));
    set->Add(*tombstones);
    cursor->next = snapshot + 1;
    ++read;
    return absl::OkStatus();
  };
  if (cursor->next <= 0) {
    ASSIGN_OR_RETURN(int64_t snapshot, NewestSnapshot());
    if (snapshot > 0) {
      RETURN_IF_ERROR(from_snapshot(snapshot));
    } else {
      cursor->next = 1;
    }
  }
  while (true) {
    absl::StatusOr<std::string> bytes =
        store_->Get(TombstoneBatchKey(cursor->next), kMaxTombstoneFileBytes);
    if (absl::IsNotFound(bytes.status())) {
      if (read > 0 || ++cursor->polls_since_check < kPollsPerSnapshotCheck) break;
      cursor->polls_since_check = 0;
      // Compacted away while this reader was behind? Resume from the snapshot.
      ASSIGN_OR_RETURN(int64_t snapshot, NewestSnapshot());
      if (snapshot < cursor->next) break;
      RETURN_IF_ERROR(from_snapshot(snapshot));
      continue;
    }
    if (!bytes.ok()) return Annotate(bytes.status(), "reading tombstones");
    absl::StatusOr<std::vector<Tombstone>> tombstones = DecodeTombstones(*bytes);
    if (!tombstones.ok()) {
      return Annotate(tombstones.status(), TombstoneBatchKey(cursor->next));
    }
    set->Add(*tombstones);
    ++cursor->next;
    cursor->polls_since_check = 0;
    ++read;
  }
  return read;
}

absl::Status TombstoneLog::Compact(const TombstoneSet& set, int64_t through) {
  if (through < 1) return absl::OkStatus();
  std::vector<Tombstone> all = set.All();
  absl::Status put = store_->PutIfAbsent(TombstoneSnapshotKey(through), EncodeTombstones(all));
  if (!put.ok() && !absl::IsAlreadyExists(put)) return Annotate(put, "writing a tombstone snapshot");
  // Older snapshots are not needed (a reader starts from the newest). Batches
  // stay: a writer that was idle may still believe an old number is next,
  // and must find it taken, never free again.
  ASSIGN_OR_RETURN(std::vector<std::string> snapshots, store_->List(kSnapshotPrefix));
  std::vector<int64_t> seqs;
  for (const std::string& key : snapshots) {
    if (int64_t seq = SeqOf(key, kSnapshotPrefix)) seqs.push_back(seq);
  }
  std::sort(seqs.begin(), seqs.end());
  for (size_t i = 0; i + 2 < seqs.size(); ++i) {
    RETURN_IF_ERROR(store_->Delete(TombstoneSnapshotKey(seqs[i])));
  }
  return absl::OkStatus();
}

}  // namespace photosearch
