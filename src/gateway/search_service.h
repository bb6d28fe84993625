// SearchService: a query (photo or vector) -> the k most similar items over
// the shards the planner chooses for its time range. The domain behind
// `POST /v1/search` on `serve` and `gateway`, and `photosearch search`; HTTP
// handlers only parse and map Status to the wire.
//
// A query is embedded here (decode, detect, embed), planned (planner.h), and
// its vectors (one, or one per detected object) go in one call to the
// SearchBackend: the shards of this process, or index servers over gRPC.
//
// Thread-safety: Search is thread-safe. Queries from concurrent callers share
// batched forward passes (PhotoEmbedder).
// Errors: kInvalidArgument for a bad query (k, vector dimension, NaN, model id,
// undecodable photo), kResourceExhausted for inputs over a limit, kUnavailable
// when no shard is loaded yet or no planned shard answered before the deadline
// (the message says which and why).
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "base/metrics.h"
#include "gateway/backend.h"
#include "gateway/merge.h"
#include "gateway/planner.h"
#include "gateway/search_request.h"
#include "index/vector_index.h"
#include "model/detect_policy.h"
#include "model/detector.h"
#include "model/photo_embedder.h"

namespace photosearch {

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
  int shards_searched = 0;               // planned shards that answered
  bool has_range = false;                // the query asked for from/to
  QueryPlan plan;                        // the shards searched, and gaps of the range
  std::vector<std::string> missing_shards;  // planned shards that did not answer in time
  bool partial() const { return !missing_shards.empty(); }
  double decode_ms = 0, detect_ms = 0, embed_ms = 0, search_ms = 0, total_ms = 0;
};

struct FanOutOptions {
  int deadline_ms = 60'000;  // for the backend call of one query
  double overfetch = 1.0;    // each shard is asked for ceil(k x overfetch) hits
};

class SearchService {
 public:
  // REQUIRES: all outlive the service. `detector` may be null: then only
  // DetectPolicy::kWhole is accepted.
  SearchService(PhotoEmbedder* embedder, SearchBackend* backend, MetricsRegistry* metrics,
                SearchLimits limits = {}, Detector* detector = nullptr,
                FanOutOptions fan_out = {});

  absl::StatusOr<SearchResponse> Search(const SearchRequest& request) const;

  // The plan a query over `range` would use now.
  QueryPlan Plan(const std::optional<TimeRange>& range) const;

  const ModelManifest& model() const { return embedder_->manifest(); }
  const SearchLimits& limits() const { return limits_; }
  bool can_detect() const { return detector_ != nullptr; }
  const SearchBackend& backend() const { return *backend_; }

 private:
  // Plans `request`'s range and searches the normalised `vectors` (nq x
  // dimension); fills the plan fields of `response`; per query, the top k.
  absl::StatusOr<std::vector<std::vector<SearchResult>>> SearchVectors(
      std::vector<float> vectors, const SearchRequest& request, SearchResponse* response) const;

  // Constant after construction.
  PhotoEmbedder* const embedder_;
  Detector* const detector_;
  SearchBackend* const backend_;
  const SearchLimits limits_;
  const FanOutOptions fan_out_;
  Histogram* const decode_seconds_;
  Histogram* const embed_seconds_;
  Histogram* const search_seconds_;
};

}  // namespace photosearch
