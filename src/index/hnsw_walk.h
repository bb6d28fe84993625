// The HNSW search walk over an hnswlib graph, shared by the immutable HNSW
// index and the live index's mutable segments. Internal: only hnsw_index.cc
// includes it (hnswlib 0.6's headers define globals).
//
// hnswlib's searchKnn reads one index-wide ef, bumps shared atomic counters on
// every hop and knows deletions only by its own marks; this is the same walk
// with a per-query ef, no shared writes, and a `skip(internal id)` predicate:
// skipped nodes are walked through (the graph stays connected) but never
// returned, and the walk goes on until it holds ef results that are not
// skipped, so a filter does not cost results (hnswlib 0.7's isIdAllowed,
// which Debian's 0.6 lacks).
//
// With kLocked, every neighbour list is copied under hnswlib's per-node lock
// and the entry point read under its global lock, so the walk may run while
// another thread calls addPoint (which takes the same locks); without it the
// graph must not change during the walk.
#pragma once

#include <hnswlib/hnswlib.h>

#include <algorithm>
#include <mutex>
#include <queue>
#include <utility>
#include <vector>

namespace photosearch::hnsw_walk {

using Graph = hnswlib::HierarchicalNSW<float>;
using hnswlib::tableint;

// Up to max_links ids of node's neighbours at `level`, copied into `out`.
template <bool kLocked>
inline int Neighbours(const Graph& h, tableint node, int level, std::vector<tableint>* out) {
  auto copy = [&] {
    auto* links = reinterpret_cast<unsigned int*>(level == 0 ? h.get_linklist0(node)
                                                             : h.get_linklist(node, level));
    const int count = h.getListCount(links);
    out->assign(reinterpret_cast<tableint*>(links + 1), reinterpret_cast<tableint*>(links + 1) + count);
    return count;
  };
  if constexpr (kLocked) {
    std::lock_guard<std::mutex> lock(const_cast<Graph&>(h).link_list_locks_[node]);
    return copy();
  } else {
    return copy();
  }
}

struct Found {
  float distance;  // hnswlib's: 1 - inner product for InnerProductSpace
  tableint id;     // internal id
};

// The (up to) k nearest nodes that `skip` lets through, nearest first.
// `count` is how many nodes exist (ids 0..count-1 are complete).
template <bool kLocked, typename Skip>
std::vector<Found> Search(const Graph& h, size_t count, const float* query, int k, size_t ef,
                          const Skip& skip) {
  std::vector<Found> result;
  if (count == 0) return result;
  tableint entry;
  int max_level;
  if constexpr (kLocked) {
    std::lock_guard<std::mutex> lock(const_cast<Graph&>(h).global);
    entry = h.enterpoint_node_;
    max_level = h.maxlevel_;
  } else {
    entry = h.enterpoint_node_;
    max_level = h.maxlevel_;
  }
  auto distance = [&](tableint id) {
    return h.fstdistfunc_(query, h.getDataByInternalId(id), h.dist_func_param_);
  };
  std::vector<tableint> links;
  float entry_distance = distance(entry);
  for (int level = max_level; level > 0; --level) {
    bool changed = true;
    while (changed) {
      changed = false;
      Neighbours<kLocked>(h, entry, level, &links);
      for (tableint next : links) {
        if (next >= count) continue;  // being added right now
        const float d = distance(next);
        if (d < entry_distance) {
          entry_distance = d;
          entry = next;
          changed = true;
        }
      }
    }
  }

  // Base layer: best-first from the entry point, ef results kept.
  hnswlib::VisitedList* visited = h.visited_list_pool_->getFreeVisitedList();
  hnswlib::vl_type* mark = visited->mass;
  const hnswlib::vl_type tag = visited->curV;
  using Pair = std::pair<float, tableint>;
  std::priority_queue<Pair> top;  // farthest kept result on top
  std::priority_queue<Pair, std::vector<Pair>, std::greater<Pair>> frontier;  // nearest first
  float bound = std::numeric_limits<float>::max();
  frontier.emplace(entry_distance, entry);
  if (!skip(entry)) {
    top.emplace(entry_distance, entry);
    bound = entry_distance;
  }
  mark[entry] = tag;
  while (!frontier.empty()) {
    const auto [d, node] = frontier.top();
    if (d > bound && top.size() >= ef) break;
    frontier.pop();
    Neighbours<kLocked>(h, node, 0, &links);
    for (tableint next : links) {
      if (next >= count || mark[next] == tag) continue;
      mark[next] = tag;
      const float dn = distance(next);
      if (top.size() < ef || dn < bound) {
        frontier.emplace(dn, next);
        if (!skip(next)) {
          top.emplace(dn, next);
          if (top.size() > ef) top.pop();
          bound = top.top().first;
        }
      }
    }
  }
  h.visited_list_pool_->releaseVisitedList(visited);
  while (top.size() > static_cast<size_t>(k)) top.pop();
  result.resize(top.size());
  for (size_t i = top.size(); i-- > 0;) {
    result[i] = Found{top.top().first, top.top().second};
    top.pop();
  }
  return result;
}

}  // namespace photosearch::hnsw_walk
