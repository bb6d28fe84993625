#include "gateway/merge.h"

#include <algorithm>
#include <unordered_map>

namespace photosearch {

std::vector<SearchResult> MergeTopK(std::vector<std::vector<SearchResult>> per_shard, int k) {
  std::unordered_map<std::string, SearchResult> best;
  for (auto& hits : per_shard) {
    for (auto& hit : hits) {
      auto [it, inserted] = best.try_emplace(hit.item_id, hit);
      if (!inserted && hit.score > it->second.score) it->second = std::move(hit);
    }
  }
  std::vector<SearchResult> merged;
  merged.reserve(best.size());
  for (auto& [id, hit] : best) merged.push_back(std::move(hit));
  auto better = [](const SearchResult& a, const SearchResult& b) {
    return a.score != b.score ? a.score > b.score : a.item_id < b.item_id;
  };
  if (static_cast<int>(merged.size()) > k) {
    std::partial_sort(merged.begin(), merged.begin() + k, merged.end(), better);
    merged.resize(k);
  } else {
    std::sort(merged.begin(), merged.end(), better);
  }
  return merged;
}

}  // namespace photosearch
