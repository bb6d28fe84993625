// LiveIndex: segments of HnswGraph (hnsw_index.cc, the one file that includes hnswlib).
#include "index/live_index.h"

#include <algorithm>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "index/hnsw_graph.h"

namespace photosearch {

struct LiveIndex::Segment {
  Segment(int64_t base_label, int capacity_) : base(base_label), capacity(capacity_) {
    removed = std::make_unique<std::atomic<uint8_t>[]>(capacity);
    for (int i = 0; i < capacity; ++i) removed[i].store(0, std::memory_order_relaxed);
  }
  const int64_t base;
  const int capacity;
  std::unique_ptr<HnswGraph> graph;
  // Nodes 0..committed-1 are fully added (their data written, their links set).
  std::atomic<size_t> committed{0};
  std::unique_ptr<std::atomic<uint8_t>[]> removed;  // per node: 1 = not returned
  std::atomic<int64_t> live{0};
};

LiveIndex::LiveIndex(int dimension, LiveIndexOptions options)
    : dimension_(dimension), options_(options), segments_(std::make_shared<const Segments>()) {}

LiveIndex::~LiveIndex() = default;

absl::StatusOr<std::unique_ptr<LiveIndex>> LiveIndex::Create(int dimension,
                                                             const LiveIndexOptions& options) {
  if (dimension < 1 || dimension > 65536) {
    return absl::InvalidArgumentError(absl::StrCat("live index dimension ", dimension));
  }
  if (options.segment_capacity < 16 || options.segment_capacity > (1 << 24) || options.m < 2 ||
      options.m > 128 || options.ef_construction < 1 || options.ef_search < 1) {
    return absl::InvalidArgumentError("live index options out of range");
  }
  return std::unique_ptr<LiveIndex>(new LiveIndex(dimension, options));
}

absl::StatusOr<int64_t> LiveIndex::Add(const float* vector) {
  std::shared_ptr<const Segments> segments = segments_.load();
  std::shared_ptr<Segment> current = segments->empty() ? nullptr : segments->back();
  if (!current || current->committed.load() >= static_cast<size_t>(current->capacity)) {
    auto fresh = std::make_shared<Segment>(next_base_, options_.segment_capacity);
    absl::StatusOr<std::unique_ptr<HnswGraph>> graph = HnswGraph::Create(
        dimension_, options_.segment_capacity, options_.m, options_.ef_construction);
    if (!graph.ok()) return graph.status();
    fresh->graph = std::move(*graph);
    next_base_ += options_.segment_capacity;
    auto next = std::make_shared<Segments>(*segments);
    next->push_back(fresh);
    segments_.store(std::move(next));
    current = std::move(fresh);
  }
  const size_t local = current->committed.load();
  if (absl::Status added = current->graph->Add(vector, local); !added.ok()) return added;
  current->live.fetch_add(1);
  live_.fetch_add(1);
  // Searches may reach the node from now on (release: its data and links
  // are written before a search that reads `committed` looks at them).
  current->committed.store(local + 1, std::memory_order_release);
  return current->base + static_cast<int64_t>(local);
}

const LiveIndex::Segment* LiveIndex::Find(const Segments& segments, int64_t label) const {
  auto it = std::upper_bound(segments.begin(), segments.end(), label,
                             [](int64_t l, const std::shared_ptr<Segment>& s) { return l < s->base; });
  if (it == segments.begin()) return nullptr;
  const Segment* segment = std::prev(it)->get();
  const int64_t local = label - segment->base;
  if (local < 0 || local >= static_cast<int64_t>(segment->committed.load())) return nullptr;
  return segment;
}

bool LiveIndex::Remove(int64_t label) {
  std::shared_ptr<const Segments> segments = segments_.load();
  const Segment* segment = Find(*segments, label);
  if (!segment) return false;
  if (segment->removed[label - segment->base].exchange(1) != 0) return false;
  const_cast<Segment*>(segment)->live.fetch_sub(1);
  live_.fetch_sub(1);
  return true;
}

bool LiveIndex::Contains(int64_t label) const {
  std::shared_ptr<const Segments> segments = segments_.load();
  const Segment* segment = Find(*segments, label);
  return segment && segment->removed[label - segment->base].load() == 0;
}

bool LiveIndex::Vector(int64_t label, std::vector<float>* out) const {
  std::shared_ptr<const Segments> segments = segments_.load();
  const Segment* segment = Find(*segments, label);
  if (!segment || segment->removed[label - segment->base].load() != 0) return false;
  const float* data = segment->graph->Vector(static_cast<size_t>(label - segment->base));
  out->assign(data, data + dimension_);
  return true;
}

int LiveIndex::DropEmptySegments() {
  std::shared_ptr<const Segments> segments = segments_.load();
  if (segments->size() < 2) return 0;
  auto next = std::make_shared<Segments>();
  int dropped = 0;
  for (size_t i = 0; i < segments->size(); ++i) {
    const std::shared_ptr<Segment>& s = (*segments)[i];
    if (i + 1 < segments->size() && s->live.load() == 0) {
      ++dropped;
      continue;
    }
    next->push_back(s);
  }
  if (dropped > 0) segments_.store(std::move(next));
  return dropped;
}

std::vector<int64_t> LiveIndex::LabelsToMove(double max_live_fraction) const {
  std::shared_ptr<const Segments> segments = segments_.load();
  std::vector<int64_t> out;
  for (size_t i = 0; i + 1 < segments->size(); ++i) {
    const Segment& s = *(*segments)[i];
    const int64_t live = s.live.load();
    if (live == 0 || live > static_cast<int64_t>(max_live_fraction * s.capacity)) continue;
    const size_t n = s.committed.load();
    for (size_t local = 0; local < n; ++local) {
      if (s.removed[local].load() == 0) out.push_back(s.base + static_cast<int64_t>(local));
    }
  }
  return out;
}

absl::StatusOr<std::vector<std::vector<Neighbor>>> LiveIndex::Search(
    const float* queries, int64_t nq, int k, const SearchParams& params) const {
  if (k < 1) return absl::InvalidArgumentError("k must be >= 1");
  const size_t ef =
      std::max<size_t>(params.ef_search > 0 ? params.ef_search : options_.ef_search, k);
  std::shared_ptr<const Segments> segments = segments_.load();  // kept alive for the search
  std::vector<std::vector<Neighbor>> out(nq);
  for (int64_t q = 0; q < nq; ++q) {
    const float* query = queries + q * dimension_;
    std::vector<Neighbor>& merged = out[q];
    for (const std::shared_ptr<Segment>& segment : *segments) {
      const size_t count = segment->committed.load(std::memory_order_acquire);
      if (count == 0 || segment->live.load() == 0) continue;
      const Segment& s = *segment;
      auto skip = [&s](size_t id) { return s.removed[id].load(std::memory_order_relaxed) != 0; };
      for (const auto& [score, id] : s.graph->Search(query, count, k, ef, skip)) {
        merged.push_back(Neighbor{s.base + static_cast<int64_t>(id), score});
      }
    }
    std::sort(merged.begin(), merged.end(), [](const Neighbor& a, const Neighbor& b) {
      return a.score != b.score ? a.score > b.score : a.label < b.label;
    });
    if (static_cast<int>(merged.size()) > k) merged.resize(k);
  }
  return out;
}

int LiveIndex::segments() const { return static_cast<int>(segments_.load()->size()); }

int64_t LiveIndex::bytes() const {
  int64_t total = 0;
  for (const auto& s : *segments_.load()) {
    // Pages of a segment's allocation are touched only as nodes are added.
    total += static_cast<int64_t>(s->committed.load() * s->graph->BytesPerNode() +
                                  s->graph->FixedBytes());
  }
  return total;
}

}  // namespace photosearch
