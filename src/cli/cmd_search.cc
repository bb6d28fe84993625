#include <cstdio>

#include "base/files.h"
#include "base/status_macros.h"
#include "cli/common.h"
#include "cli/query_stack.h"
#include "gateway/search_json.h"
#include "image/decode.h"

namespace photosearch {

int RunSearch(const SearchFlags& flags) {
  DecodeLimits limits;
  auto image = ReadFile(flags.image, limits.max_bytes);
  if (!image.ok()) return Fail("search", image.status());
  // Refuse what is not a photo before loading anything.
  if (auto info = ProbeImage(*image); !info.ok()) {
    return Fail("search", Annotate(info.status(), flags.image));
  }
  auto policy = ParseDetectPolicy(flags.detect);
  if (!policy.ok()) return Fail("search", policy.status());
  QueryStackOptions options;
  options.command = "search";
  options.model = flags.model;
  if (options.model.max_batch == 0) options.model.max_batch = 1;  // one photo: nothing to calibrate
  options.limits = limits;
  options.detect = *policy;
  options.detector = flags.detector;
  options.repo = flags.repo;
  options.need_shards = true;
  auto stack = BuildQueryStack(options);
  if (!stack.ok()) return Fail("search", stack.status());
  SearchService& service = *(*stack)->service;
  SearchRequest request;
  request.detect = *policy;
  request.image = std::move(*image);
  request.k = flags.k;
  request.params.ef_search = flags.ef;
  if (!flags.from.empty() || !flags.to.empty()) {
    auto range = ParseTimeRange(flags.from, flags.to);
    if (!range.ok()) return Fail("search", range.status());
    request.range = *range;
  }
  auto response = service.Search(request);
  if (!response.ok()) return Fail("search", response.status());
  if (flags.json) {
    std::printf("%s\n", SearchResponseJson(*response, false, response->total_ms).c_str());
    return 0;
  }
  for (const SearchObject& object : response->objects) {
    std::printf("%s %s %.2f [%.0f,%.0f,%.0f,%.0f]\n", object.primary ? "searched" : "detected",
                object.box.class_name.c_str(), object.box.score, object.box.x0, object.box.y0,
                object.box.x1, object.box.y1);
    int rank = 0;
    for (const SearchResult& r : object.results) {
      std::printf("  %-5d %-8.4f %s\n", ++rank, r.score, r.item_id.c_str());
    }
  }
  if (!response->objects.empty()) std::printf("whole photo:\n");
  std::printf("%-5s %-8s %s\n", "rank", "score", "item_id");
  int rank = 0;
  for (const SearchResult& r : response->results) {
    std::printf("%-5d %-8.4f %s\n", ++rank, r.score, r.item_id.c_str());
  }
  std::fprintf(stderr, "model %s, %d shard(s); decode %.1f ms, embed %.1f ms, search %.2f ms\n",
               response->model.c_str(), response->shards_searched, response->decode_ms,
               response->embed_ms, response->search_ms);
  return 0;
}

}  // namespace photosearch
