// FanOut: sends one ShardQuery to one replica of every planned shard at once,
// under the query's deadline, and merges what comes back.
//
// - Replica choice: the replica with the fewest requests in flight (ties
//   rotate); the shards that land on the same replica go in one call.
// - Retry: a call that fails before the deadline is retried once, for each of
//   its shards, on another replica of that shard (if there is one).
// - Hedge: shards still unanswered halfway to the deadline (a hung server
//   fails nothing, it just stays silent) are asked of another replica too,
//   once; the first answer wins.
// - Deadline: calls still running at the deadline are cancelled and their
//   shards reported missing; FanOut returns at the deadline without waiting
//   for them (their callbacks find the state they share alive). They count as
//   failed calls for the observer.
// - Merge: MergeTopK per query vector, one hit per item, its best score.
//
// Thread-safety: FanOut is thread-safe; a Replica must be.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "gateway/backend.h"

namespace photosearch {

// What one replica answered for one shard: hits per query vector.
struct ShardHits {
  ShardId id;
  std::string name;  // "<window>/part-<p>-of-<P>@v<version>"
  std::vector<std::vector<SearchResult>> per_query;
};

// One copy of some shards: in this process, or an index server.
class Replica {
 public:
  using Done = std::function<void(absl::StatusOr<std::vector<ShardHits>>)>;
  virtual ~Replica() = default;
  virtual const std::string& address() const = 0;
  // Starts searching `shards` with `query` (its `shards` field is ignored);
  // calls `done` exactly once, on any thread, possibly before returning, with
  // the hits of every shard asked for. Returns a function that cancels the
  // call (or an empty function).
  virtual std::function<void()> Start(const ShardQuery& query, const std::vector<ShardId>& shards,
                                      Done done) = 0;

  std::atomic<int> in_flight{0};
};

struct ShardTarget {
  ShardId id;
  std::vector<std::shared_ptr<Replica>> replicas;  // at least one
};

// Told about every call, for metrics.
struct FanOutObserver {
  virtual ~FanOutObserver() = default;
  virtual void OnCall(const std::string& address, double seconds, bool ok) {}
  virtual void OnRetry(const std::string& address) {}
};

ShardAnswer FanOut(const std::vector<ShardTarget>& targets, const ShardQuery& query,
                   FanOutObserver* observer = nullptr);

}  // namespace photosearch
