// HnswGraph: one mutable hnswlib graph for the live index's segments, behind
// a small interface. Internal to src/index. hnswlib 0.6 defines globals in its
// headers, so only hnsw_index.cc includes it and implements this too.
//
// Thread-safety: one writer (Add) at a time; Search may run beside it.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"

namespace photosearch {

class HnswGraph {
 public:
  static absl::StatusOr<std::unique_ptr<HnswGraph>> Create(int dimension, size_t capacity, int m,
                                                           int ef_construction);
  virtual ~HnswGraph() = default;

  // Adds node `id` (the next one: 0, 1, 2, ...).
  virtual absl::Status Add(const float* vector, size_t id) = 0;
  // Up to k of nodes 0..count-1 nearest `query` that `skip` lets through, as
  // (inner product, id), best first.
  virtual std::vector<std::pair<float, size_t>> Search(
      const float* query, size_t count, int k, size_t ef,
      const std::function<bool(size_t)>& skip) const = 0;
  // Node id's stored vector.
  virtual const float* Vector(size_t id) const = 0;
  // Memory of `added` nodes, and of the capacity's fixed part.
  virtual size_t BytesPerNode() const = 0;
  virtual size_t FixedBytes() const = 0;
};

}  // namespace photosearch
