#include "gateway/search_service.h"

#include <algorithm>
#include <cmath>
#include <set>

#include "absl/strings/str_cat.h"
#include "artifact/window.h"
#include "base/status_macros.h"
#include "base/stopwatch.h"
#include "model/region_embedder.h"

namespace photosearch {
namespace {

// Whether the dated windows of `plan` cover all of `id`'s time (an undated
// "all" shard is covered only by itself).
bool CoveredBy(const std::vector<ShardId>& plan, const ShardId& id) {
  auto window = ParseTimeWindow(id.window);
  if (!window.ok()) return false;
  std::set<std::string> windows;
  for (const ShardId& p : plan) windows.insert(p.window);
  int64_t covered = 0;
  for (const std::string& name : windows) {
    auto w = ParseTimeWindow(name);
    if (!w.ok()) continue;
    covered += std::max<int64_t>(0, std::min(w->end, window->end) - std::max(w->begin, window->begin));
  }
  return covered >= window->end - window->begin;
}

}  // namespace

SearchService::SearchService(PhotoEmbedder* embedder, SearchBackend* backend,
                             MetricsRegistry* metrics, SearchLimits limits, Detector* detector,
                             FanOutOptions fan_out)
    : embedder_(embedder),
      detector_(detector),
      backend_(backend),
      limits_(limits),
      fan_out_(fan_out),
      decode_seconds_(metrics->GetHistogram("photosearch_stage_duration_seconds",
                                            "Time per query stage", {{"stage", "decode"}})),
      embed_seconds_(metrics->GetHistogram("photosearch_stage_duration_seconds",
                                           "Time per query stage", {{"stage", "embed"}})),
      search_seconds_(metrics->GetHistogram("photosearch_stage_duration_seconds",
                                            "Time per query stage", {{"stage", "search"}})) {}

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
    std::vector<float> vectors;
    vectors.reserve(regions.regions.size() * m.dimension);
    for (const Region& region : regions.regions) {
      vectors.insert(vectors.end(), region.vector.begin(), region.vector.end());
    }
    ASSIGN_OR_RETURN(auto per_region, SearchVectors(std::move(vectors), request, &response));
    for (size_t i = 0; i < regions.regions.size(); ++i) {
      const Region& region = regions.regions[i];
      if (region.detection >= 0 && request.detect == DetectPolicy::kAll) {
        response.objects[region.detection].results = std::move(per_region[i]);
      } else {
        if (region.detection >= 0) response.objects[region.detection].primary = true;
        response.results = std::move(per_region[i]);
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
  ASSIGN_OR_RETURN(auto per_query, SearchVectors(std::move(query), request, &response));
  response.results = std::move(per_query[0]);
  response.search_ms = search_watch.ElapsedMs();
  search_seconds_->Observe(response.search_ms / 1000);
  response.total_ms = total.ElapsedMs();
  return response;
}

QueryPlan SearchService::Plan(const std::optional<TimeRange>& range) const {
  return PlanQuery(backend_->Available(), range);
}

absl::StatusOr<std::vector<std::vector<SearchResult>>> SearchService::SearchVectors(
    std::vector<float> vectors, const SearchRequest& request, SearchResponse* response) const {
  const ModelManifest& m = embedder_->manifest();
  const int nq = static_cast<int>(vectors.size()) / m.dimension;
  std::vector<ShardId> available = backend_->Available();
  if (available.empty()) {
    // Every server is marked down: try the known shards anyway rather than
    // refuse without asking (a health check may have failed on a busy server).
    available = backend_->Known();
  }
  if (available.empty()) {
    std::string note;
    absl::Status ready = backend_->Ready(&note);
    return absl::UnavailableError(
        ready.ok() ? absl::StrCat("no shard of model ", m.id, " is served yet; index photos first")
                   : std::string(ready.message()));
  }
  response->has_range = request.range.has_value();
  response->plan = PlanQuery(available, request.range);
  // Shards that are known but down leave the plan (their windows fall back to
  // finer ones where served); what no planned shard covers of them is missing.
  if (std::vector<ShardId> known = backend_->Known(); known.size() > available.size()) {
    const std::set<ShardId> up(available.begin(), available.end());
    for (const ShardId& id : PlanQuery(known, request.range).shards) {
      if (!up.count(id) && !CoveredBy(response->plan.shards, id)) {
        response->missing_shards.push_back(id.Name());
      }
    }
  }
  if (response->plan.shards.empty()) {  // nothing served in the asked range
    return std::vector<std::vector<SearchResult>>(nq);
  }
  ShardQuery query;
  query.model = m.id;
  query.dimension = m.dimension;
  query.vectors = std::move(vectors);
  query.k = request.k;
  query.shard_k = std::min(limits_.max_k, static_cast<int>(std::ceil(request.k * fan_out_.overfetch)));
  query.shard_k = std::max(query.shard_k, request.k);
  query.params = request.params;
  query.shards = response->plan.shards;
  query.deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(fan_out_.deadline_ms);
  ShardAnswer answer = backend_->Search(query);
  response->shards_searched = answer.answered;
  for (const ShardId& id : answer.missing) response->missing_shards.push_back(id.Name());
  if (answer.answered == 0) {
    return absl::UnavailableError(absl::StrCat("none of the ", query.shards.size(),
                                               " planned shard(s) answered: ", answer.first_error));
  }
  answer.per_query.resize(nq);
  return std::move(answer.per_query);
}

}  // namespace photosearch
