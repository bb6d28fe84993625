#include "cli/common.h"

#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <thread>

#include "base/sha256.h"

namespace photosearch {

std::string DefaultModelPath() {
  if (const char* env = std::getenv("PHOTOSEARCH_MODEL"); env && *env) return env;
  return PHOTOSEARCH_DEFAULT_MODEL;  // the source tree's models/, set by CMake
}

int Fail(const std::string& command, const absl::Status& status) {
  std::string message(status.message());
  for (char& c : message) {
    if (c == '\n') c = ' ';
  }
  std::cerr << "photosearch " << command << ": " << message << std::endl;
  return 1;
}

absl::StatusOr<std::unique_ptr<PhotoEmbedder>> LoadModel(const ModelFlags& flags,
                                                         const DecodeLimits& limits,
                                                         int default_replicas,
                                                         int worker_nice) {
  const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  PhotoEmbedderOptions options;
  options.replicas = flags.replicas > 0     ? flags.replicas
                     : default_replicas > 0 ? default_replicas
                                            : cores;
  options.embedder.threads =
      flags.threads > 0 ? flags.threads : std::max(1, cores / options.replicas);
  if (flags.max_batch > 0) {
    options.embedder.warmup_batch_sizes = {1, flags.max_batch};
    options.batching.max_batch = flags.max_batch;
  } else {
    options.embedder.calibrate_max_batch = 32;
  }
  options.limits = limits;
  options.batching.nice = worker_nice;
  return PhotoEmbedder::Load(flags.model, options);
}

std::string ShardCacheDir(const std::string& repo_url) {
  return (std::filesystem::temp_directory_path() /
          ("photosearch-cache-" + Sha256Hex(repo_url).substr(0, 16)))
      .string();
}

absl::StatusOr<std::unique_ptr<Detector>> LoadDetectorFor(DetectPolicy policy,
                                                          const std::string& path) {
  if (policy == DetectPolicy::kWhole || path == "none") return std::unique_ptr<Detector>();
  return Detector::Load(path.empty() ? DefaultDetectorPath() : path);
}

}  // namespace photosearch
