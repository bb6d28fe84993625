// SearchService: a query (photo or vector) -> the k most similar items over
// every served shard of the model. The domain behind `POST /v1/search` and
// `photosearch search`; HTTP handlers only parse and map Status to the wire.
//
// Thread-safety: Search is thread-safe. Queries from concurrent callers share
// batched forward passes (PhotoEmbedder).
// Errors: kInvalidArgument for a bad query (k, vector dimension, NaN, model id,
// undecodable photo), kResourceExhausted for inputs over a limit, kUnavailable
// when no shard is loaded yet.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "base/metrics.h"
#include "gateway/search_request.h"
#include "index/vector_index.h"
#include "model/detect_policy.h"
#include "model/detector.h"
#include "model/photo_embedder.h"
#include "serving/shard_manager.h"

namespace photosearch {

struct SearchResult {
  std::string item_id;
  float score = 0;
  std::string shard;  // LoadedShard::name()
};

// A detected object and, with DetectPolicy::kAll, the results of its crop.
struct SearchObject {
  Detection box;                      // in the query photo's pixels
  bool primary = false;               // the crop kPrimary searched with
  std::vector<SearchResult> results;  // kAll only
};

struct SearchResponse {
  std::string model;
  std::string detect = "whole";
  std::vector<SearchResult> results;  // kWhole, kAll: whole image; kPrimary: the primary crop
  int width = 0, height = 0;          // the query photo, when detection ran
  std::vector<SearchObject> objects;  // every detection, best first
  int shards_searched = 0;
  double decode_ms = 0, detect_ms = 0, embed_ms = 0, search_ms = 0, total_ms = 0;
};

class SearchService {
 public:
  // REQUIRES: all outlive the service. `detector` may be null: then only
  // DetectPolicy::kWhole is accepted.
  SearchService(PhotoEmbedder* embedder, ShardManager* shards, MetricsRegistry* metrics,
                SearchLimits limits = {}, Detector* detector = nullptr);

  absl::StatusOr<SearchResponse> Search(const SearchRequest& request) const;

  const ModelManifest& model() const { return embedder_->manifest(); }
  const SearchLimits& limits() const { return limits_; }
  bool can_detect() const { return detector_ != nullptr; }

 private:
  // The merged top k of every served shard for one normalised query vector.
  absl::StatusOr<std::vector<SearchResult>> SearchVector(const std::vector<float>& query,
                                                         const SearchRequest& request,
                                                         int* shards_searched) const;

  // Constant after construction.
  PhotoEmbedder* const embedder_;
  Detector* const detector_;
  ShardManager* const shards_;
  const SearchLimits limits_;
  Histogram* const decode_seconds_;
  Histogram* const embed_seconds_;
  Histogram* const search_seconds_;
};

// Merges per-shard hit lists into the global top k, one hit per item (its best
// score), best first; ties broken by item id for a stable order.
std::vector<SearchResult> MergeTopK(std::vector<std::vector<SearchResult>> per_shard, int k);

}  // namespace photosearch
