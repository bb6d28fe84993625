#include <unistd.h>

#include <cstdio>
#include <iostream>

#include "absl/strings/str_format.h"
#include "artifact/repository.h"
#include "base/status_macros.h"
#include "cli/common.h"
#include "pipeline/folder_indexer.h"

namespace photosearch {

int RunIndex(const IndexFlags& flags) {
  auto store = OpenStore(flags.repo);
  if (!store.ok()) return Fail("index", store.status());
  Repository repository(std::move(*store));
  auto embedder = LoadModel(flags.model, DecodeLimits{}, /*default_replicas=*/0);
  if (!embedder.ok()) return Fail("index", embedder.status());

  const bool tty = ::isatty(STDERR_FILENO);
  double last_line = -10;
  FolderIndexOptions options;
  auto policy = ParseDetectPolicy(flags.detect);
  if (!policy.ok()) return Fail("index", policy.status());
  auto detector = LoadDetectorFor(*policy, flags.detector);
  if (!detector.ok()) return Fail("index", detector.status());
  options.detect = *policy;
  options.detector = detector->get();
  options.photos_dir = flags.photos;
  options.index_spec = flags.index;
  options.decode_threads = flags.decode_threads;
  options.work_dir = flags.work_dir;
  options.on_progress = [&](const IndexProgress& p) {
    bool last = p.done == p.total;
    // A live line on a terminal; a line every 5 s in a log.
    if (!tty && !last && p.elapsed_seconds - last_line < 5) return;
    last_line = p.elapsed_seconds;
    double rate = p.elapsed_seconds > 0 ? p.done / p.elapsed_seconds : 0;
    double eta = rate > 0 ? (p.total - p.done) / rate : 0;
    std::fprintf(stderr,
                 "%sindexing: %lld/%lld photos (%.0f%%), %.1f photos/s, %lld failed, ETA %.0f s%s",
                 tty ? "\r" : "", static_cast<long long>(p.done), static_cast<long long>(p.total),
                 100.0 * p.done / std::max<int64_t>(p.total, 1), rate,
                 static_cast<long long>(p.failed), eta, tty && !last ? "   " : "\n");
    std::fflush(stderr);
  };
  std::fprintf(stderr, "indexing %s with %s into %s\n", flags.photos.c_str(),
               (*embedder)->manifest().id.c_str(), repository.url().c_str());
  auto result = IndexFolder(**embedder, repository, options);
  if (!result.ok()) return Fail("index", result.status());
  for (const FailedPhoto& f : result->failures) {
    std::fprintf(stderr, "skipped %s: %s\n", f.path.c_str(), f.reason.c_str());
  }
  const ArtifactManifest& m = result->manifest;
  std::printf(
      "indexed %lld photos (%zu skipped, %lld other files ignored) in %.1f s (%.1f photos/s)\n"
      "published shard %s version %lld (%s, %s) to %s\n",
      static_cast<long long>(result->indexed), result->failures.size(),
      static_cast<long long>(result->ignored_files), result->seconds,
      result->seconds > 0 ? (result->indexed + result->failures.size()) / result->seconds : 0.0,
      m.window.c_str(), static_cast<long long>(m.version), m.index.c_str(), m.model_id.c_str(),
      repository.url().c_str());
  return 0;
}

}  // namespace photosearch
