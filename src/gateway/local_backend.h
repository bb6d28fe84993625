// LocalBackend: the shards a ShardManager loaded in this process, searched on
// the caller's thread through the same FanOut as remote index servers (one
// in-process replica per shard, so a call ends before FanOut waits).
//
// Thread-safety: thread-safe.
#pragma once

#include "gateway/backend.h"
#include "gateway/fanout.h"
#include "serving/shard_manager.h"

namespace photosearch {

class LocalBackend : public SearchBackend {
 public:
  // REQUIRES: `shards` outlives the backend.
  explicit LocalBackend(ShardManager* shards) : shards_(shards) {}

  std::vector<ShardId> Available() const override;
  ShardAnswer Search(const ShardQuery& query) const override;
  std::vector<ShardState> Shards() const override;
  absl::Status Ready(std::string* note) const override;
  std::vector<std::string> Errors() const override { return shards_->LastErrors(); }

 private:
  ShardManager* const shards_;
};

// Hits of `shard` for the queries of `query` (k = query.shard_k); shared by
// the in-process replica and the index server's gRPC service.
absl::StatusOr<ShardHits> SearchLoadedShard(const LoadedShard& shard, const ShardQuery& query);

ShardId ShardIdOf(const ArtifactKey& key);

}  // namespace photosearch
