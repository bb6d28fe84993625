#include "ingest/handover.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "artifact/window.h"
#include "base/status_macros.h"

namespace photosearch {

void Handover::SetServed(const std::vector<Registration>& registrations) {
  served_.clear();
  for (const Registration& r : registrations) {
    if (r.model != model_id_ || IsLiveWindow(r.window) || r.window == "all") continue;
    served_[r.window][r.partitions][r.partition].insert(r.version);
  }
}

absl::Status Handover::SetServedFromRepository() {
  ASSIGN_OR_RETURN(std::vector<ArtifactVersions> artifacts,
                   repository_->ListArtifacts("shard", model_id_));
  served_.clear();
  for (const ArtifactVersions& a : artifacts) {
    if (a.versions.empty() || a.key.window == "all") continue;
    served_[a.key.window][a.key.partitions][a.key.partition].insert(a.versions.back());
  }
  return absl::OkStatus();
}

int64_t Handover::CatalogReadAt(const std::string& window, int partition, int partitions,
                                int64_t version) {
  const std::string key = absl::StrCat(window, "/", partition, "/", partitions, "@", version);
  if (auto it = read_at_.find(key); it != read_at_.end()) return it->second;
  absl::StatusOr<ArtifactManifest> manifest = repository_->ReadManifest(
      ArtifactKey{"shard", model_id_, window, partition, partitions}, version);
  if (!manifest.ok()) return -1;  // not cached: the repository may answer later
  int64_t ms = -1;
  if (auto read = manifest->inputs.find(kCatalogReadAtMs); read != manifest->inputs.end()) {
    if (!absl::SimpleAtoi(read->second, &ms)) ms = -1;
  }
  read_at_[key] = ms;
  return ms;
}

std::string Handover::TakenOverBy(const LiveListing& listing) {
  // The planner's choice for this hour: the coarsest complete window.
  for (const char* kind : {"month", "day", "hour"}) {
    const std::string window = WindowAt(kind, listing.listed_at);
    auto served = served_.find(window);
    if (served == served_.end()) continue;
    for (const auto& [partitions, parts] : served->second) {  // the smallest complete P
      if (static_cast<int>(parts.size()) != partitions) continue;
      const int p = PartitionOf(listing.item_id, partitions);
      const std::set<int64_t>& versions = parts.at(p);
      for (int64_t version : versions) {
        const int64_t read_at = CatalogReadAt(window, p, partitions, version);
        if (read_at <= listing.event_ms) return "";  // a replica may lack it
      }
      return absl::StrCat(window, "/part-", p, "-of-", partitions, "@v", *versions.rbegin());
    }
  }
  return "";
}

}  // namespace photosearch
