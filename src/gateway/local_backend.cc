#include "gateway/local_backend.h"

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "gateway/fanout.h"

namespace photosearch {
namespace {

class LocalReplica : public Replica {
 public:
  explicit LocalReplica(std::shared_ptr<const ShardSet> view) : view_(std::move(view)) {}
  const std::string& address() const override { return address_; }

  std::function<void()> Start(const ShardQuery& query, const std::vector<ShardId>& shards,
                              Done done) override {
    // A shard that fails is left out of the answer (FanOut reports it
    // missing); the call fails only when every shard did.
    std::vector<ShardHits> out;
    absl::Status error;
    for (const ShardId& id : shards) {
      auto it = view_->find(id.Name());
      if (it == view_->end()) {
        error = absl::NotFoundError(absl::StrCat("shard ", id.Name(), " is not loaded"));
        continue;
      }
      auto hits = SearchLoadedShard(*it->second, query);
      if (hits.ok()) {
        out.push_back(std::move(*hits));
      } else {
        error = hits.status();
      }
    }
    if (out.empty() && !error.ok()) {
      done(error);
    } else {
      done(std::move(out));
    }
    return {};
  }

 private:
  const std::string address_ = "local";
  const std::shared_ptr<const ShardSet> view_;
};

}  // namespace

ShardId ShardIdOf(const ArtifactKey& key) { return ShardId{key.window, key.partition, key.partitions}; }

absl::StatusOr<ShardHits> SearchLoadedShard(const LoadedShard& shard, const ShardQuery& query) {
  ASSIGN_OR_RETURN(auto hits,
                   shard.Search(query.vectors.data(), query.nq(), query.shard_k, query.params));
  ShardHits out;
  out.id = ShardIdOf(shard.key);
  out.name = shard.name();
  out.per_query.resize(hits.size());
  for (size_t q = 0; q < hits.size(); ++q) {
    out.per_query[q].reserve(hits[q].size());
    for (Hit& hit : hits[q]) out.per_query[q].push_back({std::move(hit.item_id), hit.score, out.name});
  }
  return out;
}

std::vector<ShardId> LocalBackend::Available() const {
  std::vector<ShardId> out;
  for (const auto& [name, handle] : *shards_->View()) out.push_back(ShardIdOf(handle->key));
  return out;
}

ShardAnswer LocalBackend::Search(const ShardQuery& query) const {
  // One replica over one view: every shard of the plan is searched in the
  // version that was served when the query started.
  auto replica = std::make_shared<LocalReplica>(shards_->View());
  std::vector<ShardTarget> targets;
  targets.reserve(query.shards.size());
  for (const ShardId& id : query.shards) targets.push_back(ShardTarget{id, {replica}});
  return FanOut(targets, query);
}

std::vector<ShardState> LocalBackend::Shards() const {
  std::vector<ShardState> out;
  for (const auto& [name, s] : *shards_->View()) {
    ShardState state;
    state.id = ShardIdOf(s->key);
    state.model = s->manifest.model_id;
    state.version = s->manifest.version;
    state.items = s->items();
    state.bytes = s->bytes;
    state.index = s->manifest.index;
    state.loaded_at = s->loaded_at;
    state.servers = {"local"};
    state.state = "serving";
    out.push_back(std::move(state));
  }
  std::sort(out.begin(), out.end(),
            [](const ShardState& a, const ShardState& b) { return a.id < b.id; });
  return out;
}

absl::Status LocalBackend::Ready(std::string* note) const {
  if (shards_->View()->empty()) {
    return absl::UnavailableError(
        absl::StrCat("no shard of model ", shards_->model_id(),
                     " is loaded yet; index photos first (photosearch index)"));
  }
  return absl::OkStatus();
}

}  // namespace photosearch
