// EtcdDirectory: the live shard registrations of one model in etcd, kept
// up to date by a background thread.
//
// The thread lists <prefix><model>/, then watches from the list's revision
// + 1, applying puts and deletes; when the watch ends (etcd stopped, the
// revision was compacted, the stream was idle too long, a malformed
// message) it lists again, retrying with a backoff of 200 ms doubling to 2 s
// while etcd does not answer. While etcd is unreachable the view is marked
// stale (with the reason) and keeps the last registrations it had.
//
// A value that ParseRegistration refuses, or that is not the registration its
// key names (RegistrationKey), is skipped with a logged warning (once per
// key and revision); a key that held a registration and now holds garbage
// drops the registration.
//
// Thread-safety: thread-safe. View() never waits for etcd.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "discovery/directory.h"
#include "discovery/etcd_client.h"

namespace photosearch {

struct EtcdDirectoryOptions {
  // Bounds each list (connect, each read).
  int request_timeout_ms = 2000;
  // A watch that receives nothing this long is ended and the directory lists
  // again. etcd sends progress notifications on quiet watches every
  // --experimental-watch-progress-notify-interval (default 10 min), so with
  // the default settings this just re-lists a quiet prefix every 30 s, which
  // also notices an etcd that hangs without closing its connections.
  int watch_idle_timeout_ms = 30000;
  int min_backoff_ms = 200;
  int max_backoff_ms = 2000;
};

class EtcdDirectory final : public Directory {
 public:
  // Watches the registrations under `prefix` + `model` + "/" on the etcd at
  // `endpoint` ("http://host:port").
  EtcdDirectory(std::string endpoint, std::string prefix, std::string model,
                EtcdDirectoryOptions options = {});
  // Stops (see Stop).
  ~EtcdDirectory() override;
  EtcdDirectory(const EtcdDirectory&) = delete;
  EtcdDirectory& operator=(const EtcdDirectory&) = delete;

  // Lists once (so that a reachable etcd gives a full view on return), then
  // starts the background thread. An unreachable etcd is not an error: the
  // view starts stale with the reason and the thread keeps trying.
  // Errors: kInvalidArgument for a bad endpoint, an empty prefix or a model
  // that is not a valid model id; kFailedPrecondition if already started.
  absl::Status Start();

  // Stops the thread promptly (well under 1 s, even when etcd hangs); the
  // last view stays readable. Idempotent.
  void Stop();

  DirectoryView View() const override;

 private:
  // The thread: watches from `revision` + 1 if `listed`, else lists first.
  void Run(bool listed, int64_t revision);
  // Lists the prefix and replaces every registration; false if etcd did not
  // answer (the view is then marked stale).
  bool List(int64_t* revision);
  // Applies one watch batch.
  void Apply(const WatchBatch& batch);
  // The registration `value` under `key`, or nullopt (logged) if refused.
  std::optional<Registration> Decode(const std::string& key, const std::string& value,
                                     int64_t revision) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void MarkStale(const absl::Status& why);
  // Rebuilds view_ from entries_ and bumps its generation.
  void PublishLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Sleeps `ms` or until Stop(); false if stopping.
  bool Sleep(int ms);

  // Constant after construction.
  const std::string prefix_;
  const std::string model_;
  const std::string key_prefix_;  // prefix_ + model_ + "/"
  const EtcdDirectoryOptions options_;
  EtcdClient client_;

  std::atomic<bool> stop_{false};  // written under mu_ (see Sleep)

  std::mutex lifecycle_mu_;  // serializes Start and Stop
  std::thread thread_ ABSL_GUARDED_BY(lifecycle_mu_);

  mutable std::mutex mu_;
  std::condition_variable wake_;  // Stop() wakes a backoff sleep
  bool started_ ABSL_GUARDED_BY(mu_) = false;
  bool listed_once_ ABSL_GUARDED_BY(mu_) = false;                     // a list has succeeded
  std::map<std::string, Registration> entries_ ABSL_GUARDED_BY(mu_);  // by key
  // The revision of each key whose value was refused, so it is logged once.
  std::map<std::string, int64_t> refused_ ABSL_GUARDED_BY(mu_);
  DirectoryView view_ ABSL_GUARDED_BY(mu_);
};

}  // namespace photosearch
