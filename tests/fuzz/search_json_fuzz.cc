// ParseSearchJson: the body of a JSON vector query (edge clients). Checks:
// what parses is bounded and finite; errors say something.
#include <cmath>

#include "fuzz_target.h"
#include "gateway/search_request.h"

using photosearch::fuzz::FuzzCheck;

PHOTOSEARCH_FUZZ_TARGET(search_json) {
  photosearch::SearchRequest request;
  absl::Status status = photosearch::ParseSearchJson(data, 1000, &request);
  if (!status.ok()) {
    FuzzCheck(status.code() == absl::StatusCode::kInvalidArgument, "not kInvalidArgument");
    FuzzCheck(!status.message().empty() && status.message().size() < 1024,
              "error message empty or unbounded");
    return;
  }
  FuzzCheck(!request.vector.empty() && request.vector.size() <= photosearch::kMaxVectorValues,
            "vector size");
  for (float v : request.vector) FuzzCheck(std::isfinite(v), "non-finite value accepted");
  FuzzCheck(request.model.size() <= photosearch::kMaxModelIdBytes, "model id unbounded");
  FuzzCheck(request.k >= 1 && request.k <= 1000, "k out of range accepted");
}
