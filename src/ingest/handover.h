// Handover: which live listings the batch shards have taken over, so the live
// shard may drop them. A listing is taken over when the window that queries
// read for its hour (the coarsest one of its month, day and hour whose
// partitions are all served: the planner's choice) is served, in every
// replica, by a shard version built from a catalog read after the listing's
// event (manifest input kCatalogReadAtMs; a rollup carries its oldest child's).
// A late event for an hour already built stays live until the hour is built
// again; a listing is never dropped while the planned shard lacks it.
//
// What is served comes from discovery (the registrations in etcd: window,
// partition, version per replica) or, without discovery, from the newest
// published version of every shard in the repository. Manifests are read
// once per version and cached.
//
// Thread-safety: not thread-safe (the ingest's handover thread owns it).
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "artifact/repository.h"
#include "discovery/registration.h"
#include "serving/live_shard.h"

namespace photosearch {

class Handover {
 public:
  // REQUIRES: `repository` outlives this.
  Handover(Repository* repository, std::string model_id)
      : repository_(repository), model_id_(std::move(model_id)) {}

  // What is served now: one registration per shard and replica (other models'
  // and live windows are ignored).
  void SetServed(const std::vector<Registration>& registrations);
  // What is published now: the newest version of each shard of the model.
  absl::Status SetServedFromRepository();

  // The shard that took `listing` over ("day/2026-11-22/part-0-of-1@v3"), or
  // "" while queries would not find it in a batch shard.
  std::string TakenOverBy(const LiveListing& listing);

 private:
  // window -> P -> p -> versions served (one per replica).
  using Served = std::map<std::string, std::map<int, std::map<int, std::set<int64_t>>>>;
  // When a version's catalog was read (ms), or -1 when it does not say.
  int64_t CatalogReadAt(const std::string& window, int partition, int partitions, int64_t version);

  Repository* const repository_;
  const std::string model_id_;
  Served served_;
  std::map<std::string, int64_t> read_at_;  // "<window>/p/P@v" -> ms
};

}  // namespace photosearch
