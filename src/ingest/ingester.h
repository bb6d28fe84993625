// Ingester: listing events from a Redis stream into the live shard, the work
// behind `photosearch ingest`.
//
//   Redis stream --XREADGROUP--> parse --> fetch + embed (PhotoBatch) --> log
//   (fsync) --> live shard --> XACK;  deletes --> log --> live shard --> the
//   repository's tombstone log --> every server within a poll.
//
// Delivery is at least once and the effect exactly once: an event is acked
// only after it is durable in the ingest log, and applying one twice changes
// nothing (a listing already held, an older one, one a tombstone hides, one a
// batch shard took over: acked without fetching or embedding). After a start
// or a reconnect it reads its own pending entries first, then new ones;
// every few seconds it claims entries another consumer left pending longer
// than the claim idle time (XAUTOCLAIM). A bad event (missing field, bad
// time, photo that cannot be fetched or decoded, id too long, body trimmed
// away) goes to the dead-letter stream with its reason and is acked. A model
// error acks nothing: the events are read again after a backoff. Redis down:
// reconnect with backoff; the live shard keeps serving meanwhile.
//
// Handover (RunHandover, its own thread): listings that batch shards have
// taken over (ingest/handover.h) for `handover_delay_ms` on end are dropped
// from the live shard and from the log.
//
// Thread-safety: Recover first, then Run and RunHandover on one thread each;
// Status() from any thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "artifact/repository.h"
#include "base/metrics.h"
#include "discovery/directory.h"
#include "fetch/fetcher.h"
#include "ingest/events.h"
#include "ingest/handover.h"
#include "ingest/ingest_log.h"
#include "ingest/redis_client.h"
#include "model/detect_policy.h"
#include "model/detector.h"
#include "model/photo_embedder.h"
#include "serving/live_shard.h"
#include "serving/tombstone_feed.h"

namespace photosearch {

struct IngestOptions {
  RedisAddress redis;
  std::string stream = "listings";
  std::string group = "photosearch";
  std::string consumer;
  std::string dead_letter;     // "" = <stream>:dead
  std::string start_id = "0";  // where a group created here starts reading
  int batch = 32;              // entries per read
  int block_ms = 200;          // XREADGROUP BLOCK
  int redis_timeout_ms = 2000;
  int claim_idle_ms = 30000;   // another consumer's entry pending this long is taken
  int claim_every_ms = 5000;
  int backoff_min_ms = 100, backoff_max_ms = 5000;
  DetectPolicy detect = DetectPolicy::kWhole;
  FetchOptions fetch;
  int handover_interval_ms = 1000;
  int handover_delay_ms = 5000;     // taken over this long before it is dropped
  int compact_tombstones_every = 1000;  // batches this ingest wrote, then a snapshot
};

struct IngestStatus {
  bool redis_connected = false;
  std::string redis_error;
  int64_t live_items = 0, live_vectors = 0, live_bytes = 0;
  int64_t log_bytes = 0;
  size_t pending_tombstones = 0;
  std::map<std::string, int64_t> hours;  // live listings per hour of listed_at
  int64_t replayed = 0, embedded = 0, acked = 0, dead_letters = 0, handed_over = 0;
};

class Ingester {
 public:
  // REQUIRES: everything given outlives the ingester; `directory` may be
  // null (handover then reads the repository), `detector` null unless
  // options.detect needs one.
  Ingester(IngestOptions options, PhotoEmbedder* embedder, Detector* detector,
           Repository* repository, IngestLog* log, TombstoneFeed* tombstones, LiveShard* live,
           Directory* directory, MetricsRegistry* metrics);
  ~Ingester();

  // Replays the log into the live shard (nothing fetched or embedded) and
  // publishes the deletes the log holds that the repository may lack.
  absl::Status Recover();
  // Consumes until `stop` is true (checked at least every block_ms).
  void Run(const std::atomic<bool>& stop);
  // Hands listings over to batch shards until `stop` is true.
  void RunHandover(const std::atomic<bool>& stop);

  IngestStatus Status() const;

 private:
  struct Work;
  absl::Status Connect();
  // Parses the entries, acks nothing yet, starts fetching and embedding.
  std::unique_ptr<Work> Begin(std::vector<StreamEntry> entries);
  // Collects, logs (fsync), applies, sends dead letters, acknowledges.
  absl::Status Finish(std::unique_ptr<Work> work);
  absl::Status Process(std::vector<StreamEntry> entries);  // Begin, then Finish
  void Count(const char* result);
  absl::Status PublishTombstones();
  void HandoverOnce();
  void Sleep(int ms, const std::atomic<bool>& stop);

  // Constant after construction.
  const IngestOptions options_;
  PhotoEmbedder* const embedder_;
  Detector* const detector_;
  Repository* const repository_;
  IngestLog* const log_;
  TombstoneFeed* const tombstones_;
  LiveShard* const live_;
  Directory* const directory_;
  std::unique_ptr<Fetcher> fetcher_;
  TombstoneLog tombstone_writer_;
  std::mutex publish_mu_;  // serialises PublishTombstones

  // The consumer thread's.
  std::unique_ptr<RedisClient> redis_;
  bool read_pending_ = true;  // own pending entries first (after start, reconnect, failure)
  int64_t last_claim_ms_ = 0;
  int appended_batches_ = 0;  // guarded by publish_mu_

  std::mutex handover_mu_;  // Process and the handover thread share it
  Handover handover_;
  std::map<std::string, int64_t> taken_since_;  // listing key -> first seen taken over (ms)

  mutable std::mutex status_mu_;
  IngestStatus status_;

  // Metrics.
  MetricsRegistry* const metrics_;
  Histogram* freshness_;
  Counter* embedded_;
  Counter* dead_letters_;
  Counter* redis_errors_;
  Counter* handed_over_;
  Gauge* live_items_;
};

}  // namespace photosearch
