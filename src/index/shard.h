// Shard: a VectorIndex plus the item id of each of its labels, saved as two
// files (the index, and ids.bin). Item ids are opaque strings (a listing id, or
// a photo's path relative to the indexed folder).
//
// Thread-safety: Search is thread-safe; Add must not run concurrently with
// anything else. A served shard is immutable: it is built once, saved, and
// later only searched.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "index/vector_index.h"

namespace photosearch {

struct Hit {
  std::string item_id;
  float score = 0;  // inner product; higher is more similar
};

class Shard {
 public:
  static constexpr const char* kIdsFile = "ids.bin";

  // An empty shard to Add to.
  static absl::StatusOr<std::unique_ptr<Shard>> Create(const IndexSpec& spec, int dimension,
                                                       int64_t expected_size = 0);
  // Reads the files Save wrote into `dir`.
  static absl::StatusOr<std::unique_ptr<Shard>> Open(const std::string& dir, const IndexSpec& spec,
                                                     int dimension);

  // The index file's name for a spec ("index.faiss" or "index.hnsw").
  static std::string IndexFileName(const IndexSpec& spec);

  // REQUIRES: ids.size() * dimension() == vectors.size().
  absl::Status Add(const std::vector<std::string>& ids, const std::vector<float>& vectors);
  // Writes IndexFileName(spec) and ids.bin into `dir` (created if missing).
  absl::Status Save(const std::string& dir) const;

  // Up to k hits for each of nq queries, most similar first, one per item (an
  // item indexed with several vectors, one per detected object, counts once,
  // with its best score).
  absl::StatusOr<std::vector<std::vector<Hit>>> Search(const float* queries, int64_t nq, int k,
                                                       const SearchParams& params = {}) const;

  int dimension() const { return index_->dimension(); }
  int64_t size() const { return static_cast<int64_t>(ids_.size()); }
  const VectorIndex& index() const { return *index_; }
  const std::vector<std::string>& ids() const { return ids_; }

 private:
  Shard(std::unique_ptr<VectorIndex> index, std::vector<std::string> ids);
  void CountVectorsPerItem();

  std::unique_ptr<VectorIndex> index_;
  std::vector<std::string> ids_;  // label -> item id
  int max_vectors_per_item_ = 1;  // > 1 when items were indexed per detected object
};

// ids.bin: "PSIDS1\n", uint64 count, then per id a uint32 length and the bytes
// (little-endian).
std::string EncodeIds(const std::vector<std::string>& ids);
absl::StatusOr<std::vector<std::string>> DecodeIds(std::string_view data);

// listed_at.i64: "PSTIME1\n", uint64 count, then count int64 unix seconds
// (little-endian), one per label (or feature row).
std::string EncodeTimes(const std::vector<int64_t>& times);
absl::StatusOr<std::vector<int64_t>> DecodeTimes(std::string_view data);

}  // namespace photosearch
