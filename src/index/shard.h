// Shard: a VectorIndex plus the item id of each of its labels, saved as two
// files (the index, and ids.bin), and optionally when each item was listed
// (listed_at.i64: a tombstone hides only listings older than itself). Item ids
// are opaque strings (a listing id, or a photo's path relative to the indexed
// folder).
//
// Thread-safety: Search is thread-safe; Add must not run concurrently with
// anything else. A served shard is immutable: it is built once, saved, and
// later only searched.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
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
  static constexpr const char* kListedAtFile = "listed_at.i64";

  // An empty shard to Add to.
  static absl::StatusOr<std::unique_ptr<Shard>> Create(const IndexSpec& spec, int dimension,
                                                       int64_t expected_size = 0);
  // Reads the files Save wrote into `dir`.
  static absl::StatusOr<std::unique_ptr<Shard>> Open(const std::string& dir, const IndexSpec& spec,
                                                     int dimension);

  // The index file's name for a spec ("index.faiss" or "index.hnsw").
  static std::string IndexFileName(const IndexSpec& spec);

  // REQUIRES: ids.size() * dimension() == vectors.size(); listed_at empty
  // (unknown) or one per id, and empty or not for every call alike.
  absl::Status Add(const std::vector<std::string>& ids, const std::vector<float>& vectors,
                   const std::vector<int64_t>& listed_at = {});
  // Writes IndexFileName(spec), ids.bin and (when known) listed_at.i64 into
  // `dir` (created if missing); returns the paths written.
  absl::StatusOr<std::vector<std::string>> Save(const std::string& dir) const;

  // Up to k hits for each of nq queries, most similar first, one per item (an
  // item indexed with several vectors, one per detected object, counts once,
  // with its best score). Labels in params.exclude are never returned.
  absl::StatusOr<std::vector<std::vector<Hit>>> Search(const float* queries, int64_t nq, int k,
                                                       const SearchParams& params = {}) const;

  int dimension() const { return index_->dimension(); }
  int64_t size() const { return static_cast<int64_t>(ids_.size()); }
  const VectorIndex& index() const { return *index_; }
  const std::vector<std::string>& ids() const { return ids_; }
  // Each label's listed_at (unix seconds), or empty when the shard does not
  // know (built before shards kept it, or a folder index).
  const std::vector<int64_t>& listed_at() const { return listed_at_; }
  // Appends the labels of `item_id` to `out` (several with detect=all).
  // O(log n).
  void LabelsOf(std::string_view item_id, std::vector<int64_t>* out) const;

 private:
  Shard(std::unique_ptr<VectorIndex> index, std::vector<std::string> ids,
        std::vector<int64_t> listed_at);
  void IndexItems();

  std::unique_ptr<VectorIndex> index_;
  std::vector<std::string> ids_;    // label -> item id
  std::vector<int64_t> listed_at_;  // label -> listed_at, or empty
  std::vector<uint32_t> by_id_;     // labels sorted by item id (then label)
  int max_vectors_per_item_ = 1;    // > 1 when items were indexed per detected object
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
