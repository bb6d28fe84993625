// SearchBackend: where SearchService sends query vectors once the planner has
// chosen shards. `serve` and `search` use LocalBackend (the shards loaded in
// this process); `gateway` uses RemoteBackend (index servers found through
// discovery, searched over gRPC). Both fan out through FanOut (fanout.h), so
// one process and a cluster run the same plan, fan-out and merge.
//
// Thread-safety: implementations are thread-safe.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "gateway/merge.h"
#include "gateway/planner.h"
#include "index/vector_index.h"

namespace photosearch {

// A shard as /v1/shards shows it.
struct ShardState {
  ShardId id;
  std::string model;
  int64_t version = 0;
  int64_t items = 0;
  int64_t bytes = 0;
  std::string index;      // e.g. "hnsw32" (empty when a registration does not say)
  std::string loaded_at;  // RFC 3339 (idem)
  std::vector<std::string> servers;  // "local" in one process, else host:port of each replica
  std::string state;                 // "serving" | "down" (no replica answers health checks)
};

// One search over a planned set of shards.
struct ShardQuery {
  std::string model;
  int dimension = 0;
  std::vector<float> vectors;  // nq * dimension, L2-normalised
  int k = 10;                  // hits wanted per query, after the merge
  int shard_k = 10;            // hits asked of each shard (k x overfetch)
  SearchParams params;
  std::vector<ShardId> shards;
  std::chrono::steady_clock::time_point deadline;
  int nq() const { return dimension > 0 ? static_cast<int>(vectors.size()) / dimension : 0; }
};

struct ShardAnswer {
  std::vector<std::vector<SearchResult>> per_query;  // merged top k per query vector
  std::vector<ShardId> missing;  // planned shards that did not answer in time (or failed)
  std::string first_error;       // why the first missing shard is missing
  int answered = 0;              // planned shards that answered
};

class SearchBackend {
 public:
  virtual ~SearchBackend() = default;
  // The shards a plan may use now: loaded here, or served by a healthy replica.
  virtual std::vector<ShardId> Available() const = 0;
  // Every shard known, also those with no healthy replica: a plan over these
  // tells which parts of a query the down shards leave unsearched.
  virtual std::vector<ShardId> Known() const { return Available(); }
  // Searches every shard of `query.shards`; never fails as a whole: shards
  // that did not answer are listed in `missing`.
  virtual ShardAnswer Search(const ShardQuery& query) const = 0;
  // Every known shard with its replicas and state, sorted by id.
  virtual std::vector<ShardState> Shards() const = 0;
  // OK when queries can be answered, else kUnavailable saying why. `note`
  // gets a remark that does not stop queries ("stale view: ...").
  virtual absl::Status Ready(std::string* note) const = 0;
  // Shard versions that failed to load, one line each.
  virtual std::vector<std::string> Errors() const { return {}; }
};

}  // namespace photosearch
