// The JSON form of a search response, shared by the REST API and
// `photosearch search --json`.
#pragma once

#include <string>

#include "gateway/search_service.h"
#include "nlohmann/json_fwd.hpp"

namespace photosearch {

// {"model":..., "detect":"whole|primary|all",
//  "results":[{"item_id","score","shard"[,"image_url"]}],
//  "shards_searched":n, "partial":false, "missing_shards":[names],
//  "plan":{"shards":[names], "gaps":[{"from","to"}]},
//  "took_ms":{"decode","detect","embed","search","total"}}
// and, when detection ran, "image":{"width","height"} and "objects":[{"box":
// [x0,y0,x1,y1] (photo pixels), "class", "score", "primary"[, "results"]}]
// ("results" per object with detect=all).
// `image_urls` adds "/photos/<item id, URL-encoded>" per result; `total_ms`
// replaces the service's total (the edge measures more than the service).
std::string SearchResponseJson(const SearchResponse& response, bool image_urls, double total_ms);

// {"shards":["<window>/part-<p>-of-<P>", ...], "gaps":[{"from":RFC 3339,"to":...}]}
nlohmann::json PlanJson(const QueryPlan& plan);

// {"error":{"code":"INVALID_ARGUMENT","message":"..."}}
std::string ErrorJson(const std::string& code, const std::string& message);

}  // namespace photosearch
