// VectorIndex: nearest-neighbour search over L2-normalised vectors by inner
// product (cosine similarity), with two implementations:
//   hnsw:   hnswlib HNSW (Debian's header-only library, compiled with this CPU's
//           vector instructions: the fast choice for approximate search);
//   faiss:  any FAISS index_factory string: "Flat" (exact), "IVF1024,PQ32np",
//           "PCA256,IVF4096,PQ32np" (compressed), ...
// Labels are 0..size()-1 in the order vectors were added; the shard maps them to
// item ids.
//
// Thread-safety: Search is thread-safe with other Search calls. Add and Save
// must not run concurrently with anything else on the same index.
// Errors: exceptions from FAISS and hnswlib are caught here and returned as
// Status; nothing above this folder sees them.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "index/label_set.h"

namespace photosearch {

struct IndexSpec {
  enum class Kind { kFaiss, kHnsw };
  Kind kind = Kind::kFaiss;
  std::string factory = "Flat";  // kFaiss: the index_factory string
  int hnsw_m = 16;               // kHnsw: links per node
  int hnsw_ef_construction = 200;
  int hnsw_ef_search = 64;  // default breadth of a search

  // "faiss:Flat", "faiss:IVF1024,PQ32np", "hnsw:M=16,ef_construction=200,ef_search=64".
  std::string ToString() const;
  bool exact() const { return kind == Kind::kFaiss && factory == "Flat"; }
};

// Parses the ToString() form; "hnsw" alone takes the defaults.
absl::StatusOr<IndexSpec> ParseIndexSpec(const std::string& text);

// The default for a shard of `num_vectors`: exact search below ~20k vectors
// (fast enough, and perfect recall), HNSW above.
IndexSpec ChooseIndexSpec(int64_t num_vectors);

struct SearchParams {
  int ef_search = 0;  // hnsw: breadth of the search; 0 = the index's default
  int nprobe = 0;     // faiss IVF: lists probed; 0 = the index's default
  // Labels never returned (deleted items), or null. The search skips them and
  // still returns k of the others when there are k: exact and HNSW filter
  // inside the walk; other FAISS indexes fetch more and filter after.
  const LabelSet* exclude = nullptr;
};

struct Neighbor {
  int64_t label = -1;
  float score = 0;  // inner product; higher is more similar
};

class VectorIndex {
 public:
  virtual ~VectorIndex() = default;

  virtual const IndexSpec& spec() const = 0;
  virtual int dimension() const = 0;
  virtual int64_t size() const = 0;

  // Adds n vectors (n * dimension() floats, row-major) with labels size() ..
  // size()+n-1. An index that needs training (IVF, PQ, PCA) trains on the
  // first vectors added.
  virtual absl::Status Add(const float* vectors, int64_t n) = 0;

  // For each of nq queries (nq * dimension() floats), up to k neighbours, most
  // similar first. REQUIRES: k >= 1.
  virtual absl::StatusOr<std::vector<std::vector<Neighbor>>> Search(
      const float* queries, int64_t nq, int k, const SearchParams& params = {}) const = 0;

  // Writes the index to one file.
  virtual absl::Status Save(const std::string& path) const = 0;
};

// An empty index; `expected_size` lets HNSW preallocate.
absl::StatusOr<std::unique_ptr<VectorIndex>> CreateIndex(const IndexSpec& spec, int dimension,
                                                         int64_t expected_size = 0);
// Reads what Save wrote.
absl::StatusOr<std::unique_ptr<VectorIndex>> LoadIndex(const IndexSpec& spec, int dimension,
                                                       const std::string& path);

// Implementations (hnsw_index.cc, faiss_index.cc).
absl::StatusOr<std::unique_ptr<VectorIndex>> CreateHnswIndex(const IndexSpec& spec, int dimension,
                                                             int64_t expected_size);
absl::StatusOr<std::unique_ptr<VectorIndex>> LoadHnswIndex(const IndexSpec& spec, int dimension,
                                                           const std::string& path);
absl::StatusOr<std::unique_ptr<VectorIndex>> CreateFaissIndex(const IndexSpec& spec, int dimension);
absl::StatusOr<std::unique_ptr<VectorIndex>> LoadFaissIndex(const IndexSpec& spec, int dimension,
                                                            const std::string& path);

}  // namespace photosearch
