// IngestLog: the ingest's write-ahead log. An event is acknowledged on the
// stream only after it is here and fsynced, and a restart replays the log
// instead of fetching and embedding again.
//
// Layout of the log's folder:
//   puts-<YYYY-MM-DDTHH>.<gen>.log   listings of that hour of listed_at, with
//                                    their vectors, appended as they come
//   deletes.log                      deletes not yet in the repository's
//                                    tombstone log
// Handover rewrites an hour's file with what stays live (usually nothing:
// the file goes) as the next generation, written under a temporary name,
// fsynced and renamed, the folder fsynced, then the old generation removed; a
// crash in between leaves both, and replay keeps the newest. Deletes leave
// the log once published (MarkPublished).
//
// Records: uint32 payload length, uint32 CRC-32 of the payload, the payload
// (little-endian; strings as uint32 length + bytes). A torn last record (a
// crash mid-append) is cut off at replay; nothing after a bad record in a file
// is trusted.
//
// Thread-safety: thread-safe (one mutex).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "serving/live_shard.h"

namespace photosearch {

struct LoggedPut {
  LiveListing listing;
  std::vector<std::vector<float>> vectors;
};

struct LoggedDelete {
  std::string event_id;
  std::string item_id;
  int64_t deleted_at = 0;
  int64_t event_ms = 0;
};

// One file's records. `valid_bytes` is the length of the prefix that decoded;
// records after a bad one are not returned.
struct LogRecords {
  std::vector<LoggedPut> puts;
  std::vector<LoggedDelete> deletes;
  size_t valid_bytes = 0;
  bool damaged = false;  // something after valid_bytes did not decode
};
std::string EncodeLogRecord(const LoggedPut& put);
std::string EncodeLogRecord(const LoggedDelete& del);
LogRecords DecodeLogRecords(std::string_view data, int dimension);

class IngestLog {
 public:
  // Creates the folder if missing. REQUIRES: dimension >= 1.
  static absl::StatusOr<std::unique_ptr<IngestLog>> Open(const std::string& dir, int dimension);
  ~IngestLog();

  struct Contents {
    std::vector<LoggedPut> puts;        // the newest listing of each item
    std::vector<LoggedDelete> deletes;  // not yet published
    int64_t records = 0;                // read in all
    int64_t cut_bytes = 0;              // of torn or damaged tails removed
  };
  // Reads everything back. Call once, before Append.
  absl::StatusOr<Contents> Replay();

  // Appends durably: returns after fsync.
  absl::Status Append(const std::vector<LoggedPut>& puts, const std::vector<LoggedDelete>& deletes);
  // The first `count` deletes of deletes.log are in the repository: drop them.
  absl::Status MarkPublished(size_t count);
  // Rewrites the file of `hour` ("2026-11-22T05") with only the listings
  // `keep` accepts (removes it when none).
  absl::Status Retain(const std::string& hour, const std::function<bool(const LoggedPut&)>& keep);

  // The hour a listing is logged under ("2026-11-22T05").
  static std::string HourOf(int64_t listed_at);
  const std::string& dir() const { return dir_; }
  int64_t bytes() const;
  // The deletes not yet published, oldest first.
  std::vector<LoggedDelete> pending_deletes() const;
  // The hours that have a file.
  std::vector<std::string> hours() const;

 private:
  IngestLog(std::string dir, int dimension) : dir_(std::move(dir)), dimension_(dimension) {}
  struct HourFile {
    int64_t generation = 0;
    int fd = -1;
  };
  std::string PutsPath(const std::string& hour, int64_t generation) const;
  absl::StatusOr<int> OpenHour(const std::string& hour) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status RewriteDeletes(const std::vector<LoggedDelete>& keep) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const std::string dir_;
  const int dimension_;
  mutable std::mutex mu_;
  std::map<std::string, HourFile> hours_ ABSL_GUARDED_BY(mu_);
  std::vector<LoggedDelete> deletes_ ABSL_GUARDED_BY(mu_);  // what deletes.log holds
  int deletes_fd_ ABSL_GUARDED_BY(mu_) = -1;
};

}  // namespace photosearch
