// TombstoneFeed: the repository's tombstones (artifact/tombstone_log.h) kept
// current in memory for a serving process. A poller reads new batches every
// interval (500 ms by default: a delete reaches every server in well under
// 2 s) and then calls every listener, which apply what changed to what they
// serve (ShardManager: each shard's deleted labels; the live shard: its items).
//
// Thread-safety: thread-safe. Listeners run on the poller's thread (or the
// caller of Refresh), one call at a time.
#pragma once

#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "base/periodic.h"
#include "absl/status/status.h"
#include "artifact/store.h"
#include "artifact/tombstone_log.h"
#include "index/tombstones.h"

namespace photosearch {

class TombstoneFeed {
 public:
  // REQUIRES: `store` outlives the feed.
  explicit TombstoneFeed(Store* store) : log_(store) {}
  ~TombstoneFeed();

  // Reads what is new; calls the listeners when something changed.
  absl::Status Refresh();
  // Calls Refresh every `interval_ms` on a thread until destroyed; errors are
  // logged (once per kind, not per poll) and retried.
  void StartPolling(int interval_ms);
  // Called after every change (register before StartPolling).
  void AddListener(std::function<void(const TombstoneSet&)> listener);

  const TombstoneSet& set() const { return set_; }
  TombstoneLog& log() { return log_; }
  // The cursor's position: batches 1..next-1 are in set().
  int64_t next_batch() const;

 private:
  TombstoneLog log_;
  TombstoneSet set_;
  mutable std::mutex refresh_mu_;  // serialises Refresh and the listeners
  TombstoneCursor cursor_ ABSL_GUARDED_BY(refresh_mu_);
  std::vector<std::function<void(const TombstoneSet&)>> listeners_ ABSL_GUARDED_BY(refresh_mu_);
  std::string last_error_ ABSL_GUARDED_BY(refresh_mu_);

  PeriodicThread poller_;  // last: stopped first
};

}  // namespace photosearch
