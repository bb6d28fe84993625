// EtcdRegistrar: an index server's registrations in etcd, kept alive under
// one lease.
//
// Set() puts the server's current set of registrations (RegistrationKey ->
// RegistrationJson) under the lease and deletes the keys it no longer holds.
// A background thread renews the lease every ttl/3 seconds. When the lease
// is gone (it expired while etcd was unreachable, or etcd restarted without
// its data) the thread grants a new one and puts every registration again;
// while etcd is unreachable it retries every second (min(1 s, ttl/3)),
// logging the outage once rather than every attempt.
//
// Stop() revokes the lease, so the registrations vanish at once. A server that
// dies without Stop() leaves them until the lease expires, ttl seconds later
// (and a restart of etcd resets that clock: discovery alone detects dead
// servers slowly; health-check them too).
//
// Thread-safety: thread-safe. Set() and the background thread take turns
// talking to etcd (one mutex), so a Set() can wait for a renewal in flight.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "discovery/etcd_client.h"
#include "discovery/registration.h"

namespace photosearch {

class EtcdRegistrar {
 public:
  // Registers under `prefix` (kDefaultPrefix) on the etcd at `endpoint`
  // ("http://host:port") with a lease of `ttl_seconds` (etcd raises it to
  // its minimum, about 2 s). `request_timeout_ms` bounds each etcd call.
  EtcdRegistrar(std::string endpoint, std::string prefix, int ttl_seconds,
                int request_timeout_ms = 2000);
  // Stops (see Stop).
  ~EtcdRegistrar();
  EtcdRegistrar(const EtcdRegistrar&) = delete;
  EtcdRegistrar& operator=(const EtcdRegistrar&) = delete;

  // Grants the lease, puts what Set() was given before (if anything) and
  // starts the background thread.
  // Errors: kInvalidArgument (endpoint, empty prefix, ttl_seconds < 1) and
  // kFailedPrecondition (started twice) leave the registrar stopped. An etcd
  // that does not answer is returned as such (kUnavailable...), but the
  // registrar runs: it grants a lease and registers as soon as etcd answers.
  absl::Status Start();

  // Replaces the registered set with `regs` (duplicates of one key: the last
  // wins). Before Start() it only records the set.
  // Errors: kInvalidArgument if a registration fails ValidateRegistration
  // (nothing changes); kFailedPrecondition after Stop(); an etcd error if
  // the set could not be written now: the set is recorded and the thread
  // keeps writing it until etcd takes it.
  absl::Status Set(std::vector<Registration> regs);

  // Stops the thread and revokes the lease: every registration vanishes at
  // once (if etcd answers; otherwise they expire after the TTL). Waits at
  // most about one request timeout for a call in flight. Idempotent.
  void Stop();

  // Test-only: stops the thread without revoking, as if the process died;
  // the registrations expire after the TTL.
  void Abandon();

  // The current lease id; 0 when there is none (not started, not granted
  // yet, stopped).
  int64_t lease() const { return lease_id_.load(); }

 private:
  void Run();
  // One round: renew (or grant) the lease, then write the set.
  void TickLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(sync_mu_);
  // Puts what changed and deletes what left since the last successful write.
  absl::Status SyncLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(sync_mu_);
  absl::Status GrantLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(sync_mu_);
  void ForgetLeaseLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(sync_mu_);
  void NoteFailureLocked(const absl::Status& status) ABSL_EXCLUSIVE_LOCKS_REQUIRED(sync_mu_);
  void NoteSuccessLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(sync_mu_);
  void Halt(bool revoke);

  // Constant after construction.
  const std::string prefix_;
  const int ttl_seconds_;
  const int keepalive_interval_ms_;  // ttl/3
  const int retry_interval_ms_;      // min(1 s, ttl/3)
  EtcdClient client_;

  std::atomic<int64_t> lease_id_{0};  // mirrors lease_ for lease()

  std::mutex lifecycle_mu_;  // serializes Start, Stop, Abandon
  std::thread thread_ ABSL_GUARDED_BY(lifecycle_mu_);

  std::mutex mu_;  // guards the thread's wake-up state only
  std::condition_variable wake_;
  std::atomic<bool> stop_{false};           // written under mu_
  bool kick_ ABSL_GUARDED_BY(mu_) = false;  // retry soon: a Set failed

  // Serializes every conversation with etcd.
  std::mutex sync_mu_;
  bool started_ ABSL_GUARDED_BY(sync_mu_) = false;
  bool stopped_ ABSL_GUARDED_BY(sync_mu_) = false;
  bool failing_ ABSL_GUARDED_BY(sync_mu_) = false;  // the outage was logged
  int64_t lease_ ABSL_GUARDED_BY(sync_mu_) = 0;
  std::map<std::string, std::string> desired_ ABSL_GUARDED_BY(sync_mu_);  // key -> JSON
  // What etcd holds under lease_ (as far as we know), key -> JSON.
  std::map<std::string, std::string> written_ ABSL_GUARDED_BY(sync_mu_);
};

}  // namespace photosearch
