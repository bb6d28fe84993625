// A search request as it arrives from outside (query string and body of
// `POST /v1/search`), parsed and bounded before any domain code sees it. The
// REST handler and the fuzz targets (tests/fuzz) share these functions, so
// what is fuzzed is what serves.
//
// Thread-safety: plain values and pure functions.
// Errors: kInvalidArgument naming the offending parameter or value.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "gateway/planner.h"
#include "index/vector_index.h"
#include "model/detect_policy.h"

namespace httplib {
struct Request;
}

namespace photosearch {

struct SearchRequest {
  std::string image;          // encoded photo (JPEG, PNG, WebP), or empty
  std::vector<float> vector;  // or a query vector, e.g. from an edge client
  std::string model;          // the vector's model id; must be the served model's
  int k = 10;
  SearchParams params;
  DetectPolicy detect = DetectPolicy::kWhole;  // for an image: which regions to search with
  std::optional<TimeRange> range;              // from/to; none: everything served
};

struct SearchLimits {
  int max_k = 1000;
  int max_ef_search = 4096;
};

// Bounds of a JSON query, checked while parsing.
inline constexpr size_t kMaxVectorValues = 65536;
inline constexpr size_t kMaxModelIdBytes = 256;

// How the body of a search is read, by its media type (Content-Type without
// parameters, lower case).
enum class SearchBody { kImage, kMultipart, kJson, kUnsupported };
SearchBody SearchBodyOf(std::string_view media_type);

// The media type of `req` ("image/jpeg" for "Image/JPEG; q=1").
std::string MediaTypeOf(const httplib::Request& req);

// Fills `request` from a JSON body: {"vector": [numbers], "model": "<id>", "k": n}
// with k in 1..max_k. Every value must be a finite number that fits a 32-bit
// float; errors name it ("vector[3] is 1e309, out of range of a 32-bit float").
absl::Status ParseSearchJson(std::string_view body, int max_k, SearchRequest* request);

// The request of `POST /v1/search`: k (default `default_k`), ef, detect, from
// and to (ParseTimeRange) from the query string; the photo (raw body or multipart field "image") or the JSON
// query from the body.
// REQUIRES: SearchBodyOf(MediaTypeOf(req)) != SearchBody::kUnsupported.
absl::StatusOr<SearchRequest> ParseSearchHttpRequest(const httplib::Request& req, int default_k,
                                                     const SearchLimits& limits);

}  // namespace photosearch
