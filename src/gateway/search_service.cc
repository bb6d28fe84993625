#include "gateway/search_service.h"

#include <algorithm>
#include <cmath>
#include <unordered_map>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "base/stopwatch.h"
#include "model/region_embedder.h"

namespace photosearch {

SearchService::SearchService(PhotoEmbedder* embedder, ShardManager* shards,
                             MetricsRegistry* metrics, SearchLimits limits, Detector* detector)
    : embedder_(embedder),
      detector_(detector),
      shards_(shards),
      limits_(limits),
      decode_seconds_(metrics->GetHistogram("photosearch_stage_duration_seconds",
                                            "Time per query stage", {{"stage", "decode"}})),
      embed_seconds_(metrics->GetHistogram("photosearch_stage_duration_seconds",
                                           "Time per query stage", {{"stage", "embed"}})),
      search_seconds_(metrics->GetHistogram("photosearch_stage_duration_seconds",
                                            "Time per query stage", {{"stage", "search"}})) {}

std::vector<SearchResult> MergeTopK(std::vector<std::vector<SearchResult>> per_shard, int k) {
  std::unordered_map<std::string, SearchResult> best;
  for (auto& hits : per_shard) {
    for (auto& hit : hits) {
      auto [it, inserted] = best.try_emplace(hit.item_id, hit);
      if (!inserted && hit.score > it->second.score) it->second = std::move(hit);
    }
  }
  std::vector<SearchResult> merged;
  merged.reserve(best.size());
  for (auto& [id, hit] : best) merged.push_back(std::move(hit));
  auto better = [](const SearchResult& a, const SearchResult& b) {
    return a.score != b.score ? a.score > b.score : a.item_id < b.item_id;
  };
  if (static_cast<int>(merged.size()) > k) {
    std::partial_sort(merged.begin(), merged.begin() + k, merged.end(), better);
    merged.resize(k);
  } else {
    std::sort(merged.begin(), merged.end(), better);
  }
  return merged;
}

absl::StatusOr<SearchResponse> SearchService::Search(const SearchRequest& request) const {
  Stopwatch total;
  const ModelManifest& m = embedder_->manifest();
  if (request.k < 1 || request.k > limits_.max_k) {
    return absl::InvalidArgumentError(
        absl::StrCat("k must be between 1 and ", limits_.max_k, ", got ", request.k));
  }
  if (request.params.ef_search < 0 || request.params.ef_search > limits_.max_ef_search) {
    return absl::InvalidArgumentError(
        absl::StrCat("ef must be between 1 and ", limits_.max_ef_search,
                     " (or 0 for the index's default), got ", request.params.ef_search));
  }
  const bool has_image = !request.image.empty();
  const bool has_vector = !request.vector.empty();
  if (has_image == has_vector) {
    return absl::InvalidArgumentError(has_image ? "give either an image or a vector, not both"
                                                : "empty query: no image and no vector");
  }
  SearchResponse response;
  response.model = m.id;
  response.detect = DetectPolicyName(request.detect);
  if (has_image) {
    if (request.detect != DetectPolicy::kWhole && detector_ == nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat("detect=", DetectPolicyName(request.detect),
                       " needs the object detector, which this server did not load"));
    }
    ASSIGN_OR_RETURN(RegionEmbedding regions,
                     EmbedRegions(*embedder_, detector_, request.image, request.detect));
    response.decode_ms = regions.decode_ms;
    response.detect_ms = regions.detect_ms;
    response.embed_ms = regions.embed_ms;
    decode_seconds_->Observe(regions.decode_ms / 1000);
    embed_seconds_->Observe(regions.embed_ms / 1000);
    response.width = regions.width;
    response.height = regions.height;
    for (const Detection& d : regions.detections) {
      SearchObject object;
      object.box = d;
      response.objects.push_back(std::move(object));
    }
    Stopwatch search_watch;
    for (const Region& region : regions.regions) {
      ASSIGN_OR_RETURN(std::vector<SearchResult> results,
                       SearchVector(region.vector, request, &response.shards_searched));
      if (region.detection >= 0 && request.detect == DetectPolicy::kAll) {
        response.objects[region.detection].results = std::move(results);
      } else {
        if (region.detection >= 0) response.objects[region.detection].primary = true;
        response.results = std::move(results);
      }
    }
    response.search_ms = search_watch.ElapsedMs();
    search_seconds_->Observe(response.search_ms / 1000);
    response.total_ms = total.ElapsedMs();
    return response;
  }

  if (request.model.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("a vector query must name its model (\"model\": \"", m.id, "\")"));
  }
  if (request.model != m.id) {
    return absl::InvalidArgumentError(absl::StrCat("vector is from model '", request.model,
                                                   "' but this index serves '", m.id, "'"));
  }
  if (static_cast<int>(request.vector.size()) != m.dimension) {
    return absl::InvalidArgumentError(absl::StrCat("vector has ", request.vector.size(),
                                                   " values, model ", m.id, " has dimension ",
                                                   m.dimension));
  }
  std::vector<float> query = request.vector;
  for (size_t i = 0; i < query.size(); ++i) {
    if (!std::isfinite(query[i])) {
      return absl::InvalidArgumentError(
          absl::StrCat("vector[", i, "] is ", query[i], ": NaN and infinity are not allowed"));
    }
  }
  double norm = 0;
  for (float v : query) norm += double{v} * v;
  if (norm == 0) return absl::InvalidArgumentError("vector is all zeros");
  NormalizeRows(query.data(), 1, m.dimension);  // edge clients may send it unnormalised

  Stopwatch search_watch;
  ASSIGN_OR_RETURN(response.results, SearchVector(query, request, &response.shards_searched));
  response.search_ms = search_watch.ElapsedMs();
  search_seconds_->Observe(response.search_ms / 1000);
  response.total_ms = total.ElapsedMs();
  return response;
}

absl::StatusOr<std::vector<SearchResult>> SearchService::SearchVector(
    const std::vector<float>& query, const SearchRequest& request, int* shards_searched) const {
  std::vector<ShardHandle> shards = shards_->Snapshot();
  if (shards.empty()) {
    return absl::UnavailableError(absl::StrCat("no shard of model ", embedder_->manifest().id,
                                               " is loaded yet; index photos first"));
  }
  std::vector<std::vector<SearchResult>> per_shard;
  per_shard.reserve(shards.size());
  for (const ShardHandle& shard : shards) {
    ASSIGN_OR_RETURN(auto hits, shard->shard->Search(query.data(), 1, request.k, request.params));
    std::vector<SearchResult> results;
    results.reserve(hits[0].size());
    const std::string name = shard->name();
    for (Hit& hit : hits[0])
      results.push_back(SearchResult{std::move(hit.item_id), hit.score, name});
    per_shard.push_back(std::move(results));
  }
  *shards_searched = static_cast<int>(shards.size());
  return MergeTopK(std::move(per_shard), request.k);
}

}  // namespace photosearch
