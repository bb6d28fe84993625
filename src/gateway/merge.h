// Search hits as the gateway passes them around, and the merge of per-shard
// hit lists into one global top k.
//
// Thread-safety: plain values and a pure function.
#pragma once

#include <string>
#include <vector>

namespace photosearch {

struct SearchResult {
  std::string item_id;
  float score = 0;
  std::string shard;  // "<window>/part-<p>-of-<P>@v<version>"
};

// Merges per-shard hit lists into the global top k, one hit per item (its best
// score), best first; ties broken by item id for a stable order.
std::vector<SearchResult> MergeTopK(std::vector<std::vector<SearchResult>> per_shard, int k);

}  // namespace photosearch
