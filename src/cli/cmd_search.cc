#include <cstdio>
#include <filesystem>
#include <iostream>

#include "artifact/repository.h"
#include "base/files.h"
#include "base/metrics.h"
#include "base/status_macros.h"
#include "base/stopwatch.h"
#include "cli/common.h"
#include "gateway/search_json.h"
#include "gateway/search_service.h"
#include "image/decode.h"
#include "serving/shard_manager.h"

namespace photosearch {

int RunSearch(const SearchFlags& flags) {
  Stopwatch watch;
  std::error_code ec;
  if (!std::filesystem::is_directory(flags.repo, ec)) {
    return Fail("search", absl::NotFoundError("repository '" + flags.repo + "' does not exist"));
  }
  auto store = OpenStore(flags.repo);
  if (!store.ok()) return Fail("search", store.status());
  Repository repository(std::move(*store));
  DecodeLimits limits;
  auto image = ReadFile(flags.image, limits.max_bytes);
  if (!image.ok()) return Fail("search", image.status());
  // Refuse what is not a photo before loading anything.
  if (auto info = ProbeImage(*image); !info.ok()) {
    return Fail("search", Annotate(info.status(), flags.image));
  }
  ModelFlags model_flags = flags.model;
  if (model_flags.max_batch == 0) model_flags.max_batch = 1;  // one photo: nothing to calibrate
  auto embedder = LoadModel(model_flags, limits, /*default_replicas=*/1);
  if (!embedder.ok()) return Fail("search", embedder.status());
  const ModelManifest& model = (*embedder)->manifest();

  ShardManager shards(&repository, model.id, model.dimension, ShardCacheDir(repository.url()));
  absl::Status refreshed = shards.Refresh();
  if (shards.Snapshot().empty()) {
    if (!refreshed.ok()) return Fail("search", refreshed);
    return Fail("search", absl::NotFoundError("no shard of model " + model.id + " in " +
                                              repository.url() + "; run photosearch index first"));
  }
  auto policy = ParseDetectPolicy(flags.detect);
  if (!policy.ok()) return Fail("search", policy.status());
  auto detector = LoadDetectorFor(*policy, flags.detector);
  if (!detector.ok()) return Fail("search", detector.status());
  if (*detector) {  // one OpenMP team for both models: the embedder's worker runs both
    (*detector)->set_forward_executor(
        [batcher = &(*embedder)->batcher()](const std::function<void()>& forward) {
          batcher->RunOnWorker(forward).wait();
        });
  }
  MetricsRegistry metrics;
  SearchService service(embedder->get(), &shards, &metrics, SearchLimits{}, detector->get());
  SearchRequest request;
  request.detect = *policy;
  request.image = std::move(*image);
  request.k = flags.k;
  request.params.ef_search = flags.ef;
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
