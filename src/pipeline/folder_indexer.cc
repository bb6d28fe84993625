#include "pipeline/folder_indexer.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <thread>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "base/files.h"
#include "base/status_macros.h"
#include "base/stopwatch.h"
#include "index/shard.h"
#include "model/photo_batch.h"
#include "pipeline/shard_builder.h"

namespace photosearch {
namespace {

namespace fs = std::filesystem;

bool IsPhotoName(const fs::path& path) {
  std::string ext = absl::AsciiStrToLower(path.extension().string());
  return ext == ".jpg" || ext == ".jpeg" || ext == ".png" || ext == ".webp";
}

}  // namespace

absl::StatusOr<std::vector<std::string>> ListPhotos(const std::string& dir, int64_t* ignored) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) {
    return absl::NotFoundError(
        absl::StrCat("photos folder '", dir, "' does not exist or is not a folder"));
  }
  std::vector<std::string> photos;
  int64_t others = 0;
  auto it =
      fs::recursive_directory_iterator(dir, fs::directory_options::skip_permission_denied, ec);
  for (; !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    const fs::path& path = it->path();
    if (path.filename().string().front() == '.') {
      if (it->is_directory(ec)) it.disable_recursion_pending();
      continue;
    }
    if (!it->is_regular_file(ec)) continue;
    if (!IsPhotoName(path)) {
      ++others;
      continue;
    }
    photos.push_back(fs::relative(path, dir, ec).generic_string());
  }
  if (ec) return absl::InternalError(absl::StrCat("listing ", dir, ": ", ec.message()));
  std::sort(photos.begin(), photos.end());
  if (ignored) *ignored = others;
  return photos;
}

absl::StatusOr<FolderIndexResult> IndexFolder(PhotoEmbedder& embedder, Repository& repository,
                                              const FolderIndexOptions& options) {
  Stopwatch watch;
  FolderIndexResult result;
  ASSIGN_OR_RETURN(std::vector<std::string> photos,
                   ListPhotos(options.photos_dir, &result.ignored_files));
  if (photos.empty()) {
    return absl::NotFoundError(
        absl::StrCat("no JPEG, PNG or WebP files under '", options.photos_dir, "'"));
  }
  if (options.detect != DetectPolicy::kWhole && options.detector == nullptr) {
    return absl::InvalidArgumentError("detection needs a detector");
  }
  if (options.index_spec != "auto") {  // a bad spec fails now, not after embedding
    RETURN_IF_ERROR(ParseIndexSpec(options.index_spec).status());
  }
  const ModelManifest& model = embedder.manifest();
  const int64_t total = static_cast<int64_t>(photos.size());

  // Read workers: read each file, then decode and queue it for the model
  // (PhotoBatch::Add, on the worker's thread).
  PhotoBatch batch(embedder, options.detector, options.detect, photos.size());
  std::atomic<int64_t> next{0};
  int threads = options.decode_threads > 0
                    ? options.decode_threads
                    : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  auto worker = [&] {
    for (int64_t i = next.fetch_add(1); i < total; i = next.fetch_add(1)) {
      fs::path path = fs::path(options.photos_dir) / photos[i];
      batch.Add(i, ReadFile(path.string(), embedder.limits().max_bytes));
    }
  };
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) pool.emplace_back(worker);

  // Collect in order, reporting progress about once a second.
  std::vector<std::string> ids;
  std::vector<float> vectors;
  ids.reserve(photos.size());
  vectors.reserve(photos.size() * model.dimension);
  int64_t items = 0;
  IndexProgress progress;
  progress.total = total;
  Stopwatch since_report;
  absl::Status fatal;
  for (int64_t i = 0; i < total; ++i) {
    EmbeddedPhoto photo = batch.Take(i);
    if (photo.status.ok()) {
      for (const std::vector<float>& vector : photo.vectors) {
        ids.push_back(photos[i]);
        vectors.insert(vectors.end(), vector.begin(), vector.end());
      }
      ++items;
    } else if (photo.model_failed) {
      if (fatal.ok()) fatal = photo.status;  // not a property of this photo
    } else {
      result.failures.push_back(FailedPhoto{photos[i], std::string(photo.status.message())});
    }
    progress.done = i + 1;
    progress.failed = static_cast<int64_t>(result.failures.size());
    if (options.on_progress && since_report.ElapsedMs() >= 1000) {
      progress.elapsed_seconds = watch.ElapsedSeconds();
      options.on_progress(progress);
      since_report.Reset();
    }
  }
  for (auto& t : pool) t.join();
  progress.elapsed_seconds = watch.ElapsedSeconds();
  if (options.on_progress) options.on_progress(progress);
  if (!fatal.ok()) return Annotate(fatal, "embedding");
  if (ids.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("none of the ", total, " photos under '",
                                                   options.photos_dir, "' could be decoded"));
  }

  // Build the shard and publish it.
  const int64_t n = static_cast<int64_t>(ids.size());
  ShardBuild build;
  build.key = ArtifactKey{"shard", model.id, "all", 0, 1};
  build.dimension = model.dimension;
  build.metric = model.metric;
  build.index_spec = options.index_spec;
  build.work_dir = options.work_dir;
  std::error_code ec;
  build.inputs["source"] =
      "folder:" + fs::absolute(options.photos_dir, ec).lexically_normal().string();
  build.inputs["photos_found"] = std::to_string(total);
  build.inputs["photos_failed"] = std::to_string(result.failures.size());
  build.inputs["detect"] = DetectPolicyName(options.detect);
  if (options.detector) build.inputs["detector"] = options.detector->manifest().id;
  ASSIGN_OR_RETURN(result.manifest, BuildAndPublishShard(repository, build, ids, vectors));
  result.indexed = items;
  result.vectors = n;
  result.seconds = watch.ElapsedSeconds();
  return result;
}

}  // namespace photosearch
