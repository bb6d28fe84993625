#include "serving/live_shard.h"

#include <algorithm>
#include <unordered_set>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"

namespace photosearch {
namespace {

// Segments at most this full of live vectors are compacted (their listings
// moved to the segment being filled) once enough were removed.
constexpr double kCompactBelowLiveFraction = 0.25;
constexpr int64_t kRemovalsPerCompaction = 1024;

}  // namespace

absl::StatusOr<std::unique_ptr<LiveShard>> LiveShard::Create(int dimension,
                                                             const LiveIndexOptions& options) {
  ASSIGN_OR_RETURN(std::unique_ptr<LiveIndex> index, LiveIndex::Create(dimension, options));
  return std::unique_ptr<LiveShard>(new LiveShard(std::move(index)));
}

LiveShard::PutResult LiveShard::Check(const LiveListing& listing,
                                      const TombstoneSet* tombstones) const {
  if (tombstones && tombstones->Hides(listing.item_id, listing.listed_at)) {
    return PutResult::kDeleted;
  }
  std::shared_lock<std::shared_mutex> lock(map_mu_);
  auto it = items_.find(listing.item_id);
  if (it == items_.end()) return PutResult::kAdded;
  const LiveListing& held = it->second.listing;
  if (held.listed_at > listing.listed_at) return PutResult::kOlder;
  if (held.listed_at == listing.listed_at && held.image_url == listing.image_url) {
    return PutResult::kUnchanged;
  }
  if (held.listed_at == listing.listed_at && held.event_ms > listing.event_ms) {
    return PutResult::kOlder;  // the same time, an earlier event: the later one stays
  }
  return PutResult::kReplaced;
}

absl::StatusOr<LiveShard::PutResult> LiveShard::Put(const LiveListing& listing,
                                                    const std::vector<std::vector<float>>& vectors,
                                                    const TombstoneSet* tombstones) {
  if (vectors.empty()) return absl::InvalidArgumentError("a live listing needs a vector");
  for (const std::vector<float>& v : vectors) {
    if (static_cast<int>(v.size()) != dimension()) {
      return absl::InvalidArgumentError(absl::StrCat("live listing vector of dimension ", v.size(),
                                                     ", the shard's is ", dimension()));
    }
  }
  std::lock_guard<std::mutex> write(write_mu_);
  const PutResult result = Check(listing, tombstones);
  if (result != PutResult::kAdded && result != PutResult::kReplaced) return result;
  Item item;
  item.listing = listing;
  for (const std::vector<float>& v : vectors) {
    absl::StatusOr<int64_t> label = index_->Add(v.data());
    if (!label.ok()) {
      for (int64_t added : item.labels) index_->Remove(added);
      return label.status();
    }
    item.labels.push_back(*label);
  }
  if (result == PutResult::kReplaced) RemoveLocked(listing.item_id);
  std::unique_lock<std::shared_mutex> lock(map_mu_);
  auto [it, inserted] = items_.emplace(listing.item_id, std::move(item));
  for (int64_t label : it->second.labels) label_item_[label] = &it->first;
  max_vectors_per_item_ = std::max<int>(max_vectors_per_item_, it->second.labels.size());
  return result;
}

void LiveShard::RemoveLocked(const std::string& item_id) {
  std::vector<int64_t> labels;
  {
    std::shared_lock<std::shared_mutex> lock(map_mu_);
    auto it = items_.find(item_id);
    if (it == items_.end()) return;
    labels = it->second.labels;
  }
  for (int64_t label : labels) index_->Remove(label);  // searches stop returning it first
  {
    std::unique_lock<std::shared_mutex> lock(map_mu_);
    for (int64_t label : labels) label_item_.erase(label);
    items_.erase(items_.find(item_id));
  }
  removed_since_compact_ += static_cast<int64_t>(labels.size());
  if (removed_since_compact_ >= kRemovalsPerCompaction) CompactLocked();
}

void LiveShard::CompactLocked() {
  removed_since_compact_ = 0;
  std::vector<float> vector;
  for (int64_t label : index_->LabelsToMove(kCompactBelowLiveFraction)) {
    if (!index_->Vector(label, &vector)) continue;
    absl::StatusOr<int64_t> moved = index_->Add(vector.data());
    if (!moved.ok()) break;  // out of memory: keep the old segment
    std::unique_lock<std::shared_mutex> lock(map_mu_);
    auto owner = label_item_.find(label);
    if (owner == label_item_.end()) {
      index_->Remove(*moved);
      continue;
    }
    const std::string* id = owner->second;
    std::vector<int64_t>& labels = items_.find(*id)->second.labels;
    std::replace(labels.begin(), labels.end(), label, *moved);
    label_item_.erase(owner);
    label_item_[*moved] = id;
    index_->Remove(label);
  }
  index_->DropEmptySegments();
}

bool LiveShard::Delete(std::string_view item_id, int64_t deleted_at) {
  std::lock_guard<std::mutex> write(write_mu_);
  std::string id;
  {
    std::shared_lock<std::shared_mutex> lock(map_mu_);
    auto it = items_.find(item_id);
    if (it == items_.end() || it->second.listing.listed_at > deleted_at) return false;
    id = it->first;
  }
  RemoveLocked(id);
  return true;
}

void LiveShard::ApplyTombstones(const TombstoneSet& set) {
  std::vector<Tombstone> changes;
  {
    std::lock_guard<std::mutex> write(write_mu_);
    changes = set.Since(tombstones_applied_);
    tombstones_applied_ += changes.size();
  }
  for (const Tombstone& t : changes) Delete(t.item_id, t.deleted_at);
}

std::vector<LiveListing> LiveShard::Drop(
    const std::function<bool(const LiveListing&)>& taken_over) {
  std::lock_guard<std::mutex> write(write_mu_);
  std::vector<LiveListing> dropped;
  {
    std::shared_lock<std::shared_mutex> lock(map_mu_);
    for (const auto& [id, item] : items_) {
      if (taken_over(item.listing)) dropped.push_back(item.listing);
    }
  }
  for (const LiveListing& listing : dropped) RemoveLocked(listing.item_id);
  if (!dropped.empty()) index_->DropEmptySegments();
  return dropped;
}

absl::StatusOr<std::vector<std::vector<Hit>>> LiveShard::Search(const float* queries, int64_t nq,
                                                                int k,
                                                                const SearchParams& params) const {
  int per_item = 1;
  {
    std::shared_lock<std::shared_mutex> lock(map_mu_);
    per_item = max_vectors_per_item_;
  }
  SearchParams plain = params;
  plain.exclude = nullptr;
  const int fetch = static_cast<int>(std::min<int64_t>(int64_t{k} * per_item, 100'000));
  if (fetch > k && plain.ef_search > 0) plain.ef_search = std::max(plain.ef_search, fetch);
  ASSIGN_OR_RETURN(auto neighbours, index_->Search(queries, nq, fetch, plain));
  std::vector<std::vector<Hit>> out(nq);
  std::shared_lock<std::shared_mutex> lock(map_mu_);
  for (int64_t q = 0; q < nq; ++q) {
    std::unordered_set<const std::string*> seen;
    for (const Neighbor& n : neighbours[q]) {
      auto it = label_item_.find(n.label);
      if (it == label_item_.end()) continue;  // added or removed while searching
      if (!seen.insert(it->second).second) continue;
      out[q].push_back(Hit{*it->second, n.score});
      if (static_cast<int>(out[q].size()) == k) break;
    }
  }
  return out;
}

std::vector<LiveListing> LiveShard::Listings() const {
  std::shared_lock<std::shared_mutex> lock(map_mu_);
  std::vector<LiveListing> out;
  out.reserve(items_.size());
  for (const auto& [id, item] : items_) out.push_back(item.listing);
  return out;
}

bool LiveShard::Vectors(std::string_view item_id, std::vector<std::vector<float>>* out) const {
  std::shared_lock<std::shared_mutex> lock(map_mu_);
  auto it = items_.find(item_id);
  if (it == items_.end()) return false;
  out->clear();
  for (int64_t label : it->second.labels) {
    std::vector<float> v;
    if (!index_->Vector(label, &v)) return false;
    out->push_back(std::move(v));
  }
  return true;
}

size_t LiveShard::items() const {
  std::shared_lock<std::shared_mutex> lock(map_mu_);
  return items_.size();
}

}  // namespace photosearch
