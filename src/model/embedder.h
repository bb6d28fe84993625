// Embedder: preprocessed input tensors -> L2-normalised vectors, on one of two
// runtimes chosen by the manifest: libtorch (TorchScript, the default) or
// OpenCV DNN (ONNX).
//
// Thread-safety: EmbedBatch is NOT thread-safe; one caller at a time (share one
// through BatchingEmbedder). Each runtime uses `threads` intra-op threads.
#pragma once

#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "model/manifest.h"

namespace photosearch {

struct EmbedderOptions {
  int threads = 0;  // intra-op threads of this embedder; 0 = one per core
  // Batch sizes run once at load, so that the first request at each shape is
  // not slow (libtorch and oneDNN specialise per shape).
  std::vector<int> warmup_batch_sizes = {1};
  // When > 1: time batches of 1, 2, 4, ... up to this at load and set
  // preferred_batch() to the fastest per image. Throughput is not monotonic in
  // the batch size: on one 2-core AMD EPYC, MobileNetV2 ran 4.2x slower per
  // image at batch 8 than at batch 4 (a oneDNN 1x1-convolution blocking choice).
  int calibrate_max_batch = 0;
};

class Embedder {
 public:
  virtual ~Embedder() = default;

  const ModelManifest& manifest() const { return manifest_; }
  int dimension() const { return manifest_.dimension; }
  // The batch size with the best throughput, from calibration (else 1).
  int preferred_batch() const { return preferred_batch_; }

  // Applies this embedder's thread settings to the calling thread; a thread
  // that runs EmbedBatch calls it once first (OpenMP settings are per thread).
  virtual void ConfigureCallingThread() {}

  // `input`: n * InputTensorSize(manifest()) floats, NCHW, preprocessed.
  // Returns n * dimension() floats, L2-normalised when the manifest says so.
  // REQUIRES: n >= 1.
  absl::StatusOr<std::vector<float>> EmbedBatch(const float* input, int n);

 protected:
  explicit Embedder(ModelManifest manifest) : manifest_(std::move(manifest)) {}
  // Runs the network; returns n * dimension() raw floats (pooled, not normalised).
  virtual absl::StatusOr<std::vector<float>> Forward(const float* input, int n) = 0;

 private:
  friend absl::StatusOr<std::unique_ptr<Embedder>> LoadEmbedder(const ModelManifest&,
                                                                const EmbedderOptions&);
  const ModelManifest manifest_;
  int preferred_batch_ = 1;
};

// Loads the runtime the manifest names and warms it up.
absl::StatusOr<std::unique_ptr<Embedder>> LoadEmbedder(const ModelManifest& manifest,
                                                       const EmbedderOptions& options = {});

// Runtime factories (one translation unit each, so that only one includes torch).
absl::StatusOr<std::unique_ptr<Embedder>> LoadTorchEmbedder(const ModelManifest& manifest,
                                                            const EmbedderOptions& options);
absl::StatusOr<std::unique_ptr<Embedder>> LoadOpenCvEmbedder(const ModelManifest& manifest,
                                                             const EmbedderOptions& options);

// Errors of a forward pass (the network failed, produced NaN, the embedder is
// shutting down) carry a mark, so that callers that embed many photos can tell
// "the model failed" (stop, or retry later) from "this photo is bad" (skip it)
// whatever the status code: BatchingEmbedder and Detector mark them, and the
// mark survives Annotate.
absl::Status MarkModelError(absl::Status status);
bool IsModelError(const absl::Status& status);

// Scales each of the n rows of `vectors` (n*dim) to unit L2 norm; rows of all
// zeros are left as they are. Returns false if any value is NaN or infinite.
bool NormalizeRows(float* vectors, int64_t n, int dim);

}  // namespace photosearch
