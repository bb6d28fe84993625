#include "index/tombstones.h"

#include <algorithm>
#include <cmath>
#include <mutex>

namespace photosearch {

int TombstoneSet::Add(const std::vector<Tombstone>& batch) {
  std::unique_lock<std::shared_mutex> lock(mu_);
  int changed = 0;
  for (const Tombstone& t : batch) {
    auto [it, inserted] = latest_.try_emplace(t.item_id, t.deleted_at);
    if (!inserted) {
      if (t.deleted_at <= it->second) continue;
      it->second = t.deleted_at;
    }
    changed_.push_back(&it->first);  // node-based map: the key's address is stable
    ++changed;
  }
  return changed;
}

bool TombstoneSet::Hides(std::string_view item_id, int64_t listed_at) const {
  int64_t deleted_at = 0;
  return DeletedAt(item_id, &deleted_at) && listed_at <= deleted_at;
}

bool TombstoneSet::DeletedAt(std::string_view item_id, int64_t* deleted_at) const {
  std::shared_lock<std::shared_mutex> lock(mu_);
  auto it = latest_.find(item_id);
  if (it == latest_.end()) return false;
  *deleted_at = it->second;
  return true;
}

size_t TombstoneSet::changes() const {
  std::shared_lock<std::shared_mutex> lock(mu_);
  return changed_.size();
}

std::vector<Tombstone> TombstoneSet::Since(size_t from) const {
  std::shared_lock<std::shared_mutex> lock(mu_);
  std::vector<Tombstone> out;
  for (size_t i = from; i < changed_.size(); ++i) {
    out.push_back(Tombstone{*changed_[i], latest_.find(*changed_[i])->second});
  }
  return out;
}

std::vector<Tombstone> TombstoneSet::All() const {
  std::vector<Tombstone> out;
  {
    std::shared_lock<std::shared_mutex> lock(mu_);
    out.reserve(latest_.size());
    for (const auto& [id, at] : latest_) out.push_back(Tombstone{id, at});
  }
  std::sort(out.begin(), out.end(),
            [](const Tombstone& a, const Tombstone& b) { return a.item_id < b.item_id; });
  return out;
}

size_t TombstoneSet::items() const {
  std::shared_lock<std::shared_mutex> lock(mu_);
  return latest_.size();
}

namespace {

int64_t ListedAt(const Shard& shard, int64_t label, int64_t fallback) {
  const std::vector<int64_t>& times = shard.listed_at();
  return times.empty() ? fallback : times[static_cast<size_t>(label)];
}

}  // namespace

LabelSet DeletedLabels(const Shard& shard, const std::vector<Tombstone>& tombstones,
                       int64_t fallback_listed_at, const LabelSet* base) {
  LabelSet out = base ? *base : LabelSet(shard.size());
  std::vector<int64_t> labels;
  for (const Tombstone& t : tombstones) {
    labels.clear();
    shard.LabelsOf(t.item_id, &labels);
    for (int64_t label : labels) {
      if (ListedAt(shard, label, fallback_listed_at) <= t.deleted_at) out.insert(label);
    }
  }
  return out;
}

LabelSet DeletedLabels(const Shard& shard, const TombstoneSet& tombstones,
                       int64_t fallback_listed_at) {
  const double per_tombstone = std::log2(static_cast<double>(shard.size()) + 2);
  if (static_cast<double>(tombstones.items()) * per_tombstone < static_cast<double>(shard.size())) {
    return DeletedLabels(shard, tombstones.All(), fallback_listed_at);
  }
  LabelSet out(shard.size());
  for (int64_t label = 0; label < shard.size(); ++label) {
    if (tombstones.Hides(shard.ids()[static_cast<size_t>(label)],
                         ListedAt(shard, label, fallback_listed_at))) {
      out.insert(label);
    }
  }
  return out;
}

}  // namespace photosearch
