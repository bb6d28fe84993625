// Photo bytes -> vector: the one decode -> preprocess -> embed path that both
// indexing and queries use, so that an indexed photo and the same photo as a
// query always get the same vector.
//
// Thread-safety: all methods are thread-safe. Decoding and preprocessing run on
// the caller's thread; the forward pass is batched across callers.
#pragma once

#include <future>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "image/image.h"
#include "model/batching_embedder.h"

namespace photosearch {

struct PhotoTimings {
  double decode_ms = 0;  // decode + preprocess
  double embed_ms = 0;   // queueing + forward pass
};

struct PhotoEmbedderOptions {
  // Replicas of the model, each with its own batching worker thread and
  // embedder.threads intra-op threads. 0 with threads 0: one replica using
  // every core (lowest latency for single queries).
  int replicas = 1;
  EmbedderOptions embedder;  // per replica; calibration runs on the first only
  BatchingEmbedder::Options batching;
  DecodeLimits limits;
};

class PhotoEmbedder {
 public:
  // Loads the model the manifest at `manifest_path` describes.
  static absl::StatusOr<std::unique_ptr<PhotoEmbedder>> Load(const std::string& manifest_path,
                                                             const PhotoEmbedderOptions& options);

  // Decodes and preprocesses one photo into the model's input tensor.
  absl::StatusOr<std::vector<float>> Prepare(std::string_view bytes) const;
  // Queues a prepared input for the batched forward pass.
  std::future<BatchingEmbedder::Result> Submit(std::vector<float> input) {
    return batcher_.Submit(std::move(input));
  }
  // Prepare + Submit + wait. `timings` may be null.
  absl::StatusOr<std::vector<float>> EmbedPhoto(std::string_view bytes, PhotoTimings* timings);

  const ModelManifest& manifest() const { return batcher_.manifest(); }
  const DecodeLimits& limits() const { return limits_; }
  BatchingEmbedder& batcher() { return batcher_; }

 private:
  PhotoEmbedder(std::vector<std::unique_ptr<Embedder>> replicas,
                const PhotoEmbedderOptions& options)
      : limits_(options.limits), batcher_(std::move(replicas), options.batching) {}

  const DecodeLimits limits_;
  BatchingEmbedder batcher_;
};

}  // namespace photosearch
