// EtcdClient: the few etcd v3 calls discovery needs, through etcd's JSON
// gateway (grpc-gateway, etcd 3.4: POST /v3/..., keys and values base64,
// int64s as JSON strings) over cpp-httplib. No gRPC.
//
// Every answer is untrusted: bodies are bounded (kMaxResponseBytes for a
// range, kMaxWatchMessageBytes for one watch message, 64 KiB otherwise),
// JSON nesting is bounded, int64 fields are parsed strictly (a JSON string of
// decimal digits or a JSON integer that fits int64; absent means 0, as the
// gateway omits zeros), base64 is checked, and no exception escapes. A
// malformed answer is kInternal (range, lease) or ends a watch with
// kUnavailable.
//
// Errors:
//   kInvalidArgument  the endpoint is not http://host:port (every call), or a
//                     bad argument (ttl < 1)
//   kUnavailable      no connection, timeout, HTTP 5xx, a watch stream that
//                     ended, a malformed answer on a watch
//   kNotFound         the lease is gone (KeepAlive, Put with it, Revoke)
//   kOutOfRange       a watch from a compacted revision
//   kDeadlineExceeded a watch idle longer than its idle timeout
//   kCancelled        after Shutdown()
//   kResourceExhausted a range answer over kMaxResponseBytes
//   kInternal         a malformed answer to a unary call
//   other codes       etcd's own gRPC code, from its error body
//
// Thread-safety: thread-safe; every call opens its own connection (calls are
// rare: a keepalive every few seconds, a put per shard change), so calls from
// several threads never wait for each other.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace httplib {
class Client;
}  // namespace httplib

namespace photosearch {

struct KeyValue {
  std::string key, value;
  int64_t mod_revision = 0;
};

struct RangeResult {
  std::vector<KeyValue> kvs;  // in key order
  int64_t revision = 0;       // the store's revision this range was read at
};

struct WatchEvent {
  bool put = true;  // false: the key was deleted (value is empty)
  std::string key, value;
  int64_t revision = 0;  // the event's mod_revision
};

struct WatchBatch {
  // Empty for a progress notification.
  std::vector<WatchEvent> events;
  // The watch has delivered every event up to this revision: the last event's
  // revision when there are events (etcd's header revision can run ahead of
  // them while a watch catches up in several batches), the header's for a
  // progress notification. Resume with revision + 1.
  int64_t revision = 0;
};

// A range response larger than this is refused (kResourceExhausted).
inline constexpr size_t kMaxResponseBytes = 64 << 20;
// One line of a watch stream larger than this ends the watch (kUnavailable).
inline constexpr size_t kMaxWatchMessageBytes = 64 << 20;

// The end of the range of keys that start with `prefix`: prefix with its last
// byte below 0xff incremented (and what follows dropped); "\0" (every key)
// when there is none, as etcd's clientv3.GetPrefixRangeEnd.
std::string PrefixRangeEnd(std::string_view prefix);

// OK for "http://host:port" (an optional trailing "/"), host:port as
// ValidateHostPort checks it.
absl::Status ValidateEtcdEndpoint(std::string_view endpoint);

class EtcdClient {
 public:
  // `endpoint`: "http://127.0.0.1:2379". `timeout_ms` bounds connecting and
  // each read and write of a call (a watch's reads use its idle timeout).
  // An endpoint that ValidateEtcdEndpoint refuses makes every call fail with
  // that error (see status()).
  explicit EtcdClient(std::string endpoint, int timeout_ms = 2000);
  ~EtcdClient();
  EtcdClient(const EtcdClient&) = delete;
  EtcdClient& operator=(const EtcdClient&) = delete;

  // OK, or why the endpoint was refused.
  const absl::Status& status() const { return endpoint_status_; }
  const std::string& endpoint() const { return endpoint_; }

  // A new lease of `ttl_seconds` (etcd raises TTLs below its minimum, ~2 s);
  // returns its id (> 0).
  absl::StatusOr<int64_t> GrantLease(int ttl_seconds);
  // Renews `lease` once; returns its remaining TTL in seconds (> 0).
  // kNotFound when etcd answers without a positive TTL: the lease is gone.
  absl::StatusOr<int64_t> KeepAlive(int64_t lease);
  // Revokes `lease`: every key attached to it is deleted at once.
  absl::Status Revoke(int64_t lease);

  // Puts `key` = `value`, attached to `lease` (0: none).
  absl::Status Put(std::string_view key, std::string_view value, int64_t lease = 0);
  // Deletes `key` (OK when it did not exist).
  absl::Status Delete(std::string_view key);
  // Every key starting with `prefix`, and the revision they were read at.
  absl::StatusOr<RangeResult> GetPrefix(std::string_view prefix);

  // Watches the keys starting with `prefix` from `start_revision` (> 0)
  // until one of:
  //   - `stop` (optional) becomes true, or on_batch returns false: OK. `stop`
  //     is polled every few tens of milliseconds while the stream is idle.
  //   - etcd cancels the watch because start_revision was compacted:
  //     kOutOfRange, "... compacted (compact_revision N)"; list again, then
  //     watch from the list's revision + 1.
  //   - etcd cancels it for another reason, the stream ends (etcd stopped or
  //     restarted), or a message is malformed: kUnavailable.
  //   - nothing arrives (no event, no progress notification) for
  //     idle_timeout_ms: kDeadlineExceeded. The watch asks for progress
  //     notifications, which etcd sends every
  //     --experimental-watch-progress-notify-interval (default 10 min) on a
  //     quiet watch, so a hung etcd is told from a quiet one only with an
  //     idle timeout above that interval; or treat the timeout as a cue to
  //     list again.
  // on_batch runs on the calling thread, once per etcd watch response with
  // events and once per progress notification (events empty), never for the
  // "created" response.
  absl::Status Watch(std::string_view prefix, int64_t start_revision,
                     const std::function<bool(const WatchBatch&)>& on_batch,
                     const std::atomic<bool>* stop, int idle_timeout_ms);

  // Interrupts every call in flight (they return kCancelled promptly) and
  // makes every later call return kCancelled. For owners that must stop a
  // thread blocked on a hung etcd. Irreversible.
  void Shutdown();

 private:
  // A fresh client for one call; read_timeout_ms bounds each read.
  std::unique_ptr<httplib::Client> NewHttpClient(int read_timeout_ms) const;
  // Registers `client` as in flight (false after Shutdown).
  bool Enter(httplib::Client* client);
  void Leave(httplib::Client* client);
  // POSTs `body` to `path`; returns the answer of a 200 (at most `max_bytes`,
  // else kResourceExhausted), or the error etcd reported.
  absl::StatusOr<std::string> Call(const char* path, const std::string& body, size_t max_bytes);
  // Prefixes messages: "etcd http://h:p /v3/kv/put: ".
  std::string Where(const char* path) const;

  // Constant after construction.
  const std::string endpoint_;
  const int timeout_ms_;
  absl::Status endpoint_status_;
  std::string host_;
  int port_ = 0;

  std::mutex mu_;
  bool shutdown_ ABSL_GUARDED_BY(mu_) = false;
  std::set<httplib::Client*> in_flight_ ABSL_GUARDED_BY(mu_);
};

}  // namespace photosearch
