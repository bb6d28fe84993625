// LiveIndex: a vector index that grows and shrinks while it is searched: the
// index behind the live shard, which takes new listings within a second of
// their event and drops them once a batch shard serves them.
//
// Vectors live in segments of mutable HNSW (hnswlib, inner product), each of
// a fixed capacity; when one is full the next is started. A label is a
// segment's base plus the vector's place in it, and is never reused. Removing
// a label marks it: searches walk through it but never return it. A segment
// whose labels are all removed is freed (handover drops old listings, so whole
// old segments empty out); a mostly-removed one is compacted by its owner,
// which re-adds what is left (LabelsToMove) and removes the old labels.
//
// Thread-safety: Search, Vector, Contains, size and bytes are thread-safe with
// everything. Add, Remove and DropEmptySegments are for one writer at a time
// (the owner serialises them); a search runs beside an Add (hnswlib's per-node
// locks are taken while neighbour lists are read).
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "index/vector_index.h"

namespace photosearch {

struct LiveIndexOptions {
  int segment_capacity = 32768;  // vectors per segment
  int m = 16;                    // HNSW links per node
  int ef_construction = 100;
  int ef_search = 64;            // default search breadth
};

class LiveIndex {
 public:
  static absl::StatusOr<std::unique_ptr<LiveIndex>> Create(int dimension,
                                                           const LiveIndexOptions& options = {});
  ~LiveIndex();
  LiveIndex(const LiveIndex&) = delete;
  LiveIndex& operator=(const LiveIndex&) = delete;

  // Adds one vector (dimension() floats, L2-normalised); returns its label.
  absl::StatusOr<int64_t> Add(const float* vector);
  // Hides `label` from every later search; false if it was not live.
  bool Remove(int64_t label);
  // Frees segments (other than the one being filled) with no live label;
  // returns how many. A search still running on one keeps it until it ends.
  int DropEmptySegments();
  // The live labels of segments (other than the one being filled) where at
  // most `max_live_fraction` of the capacity is live: re-add their vectors
  // and remove them, and the segments empty out.
  std::vector<int64_t> LabelsToMove(double max_live_fraction) const;

  // Up to k live labels nearest each of nq queries, best first.
  absl::StatusOr<std::vector<std::vector<Neighbor>>> Search(const float* queries, int64_t nq,
                                                            int k,
                                                            const SearchParams& params = {}) const;
  // The stored vector of a live label; false if it is not live.
  bool Vector(int64_t label, std::vector<float>* out) const;
  bool Contains(int64_t label) const;

  int dimension() const { return dimension_; }
  int64_t size() const { return live_.load(); }  // live labels
  int segments() const;
  int64_t bytes() const;  // memory the segments take

 private:
  struct Segment;
  using Segments = std::vector<std::shared_ptr<Segment>>;
  LiveIndex(int dimension, LiveIndexOptions options);
  const Segment* Find(const Segments& segments, int64_t label) const;

  // Constant after construction.
  const int dimension_;
  const LiveIndexOptions options_;

  std::atomic<std::shared_ptr<const Segments>> segments_;  // replaced whole by the writer
  std::atomic<int64_t> live_{0};
  int64_t next_base_ = 0;  // the writer's: the base of the next segment
};

}  // namespace photosearch
