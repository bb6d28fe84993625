// Detector: a decoded image -> boxes (labelled objects, and class-agnostic
// proposals for the primary object), on one of two runtimes: libtorch
// (TorchScript, the default) or OpenCV DNN (ONNX). What the network expects
// and how its output is decoded come from the manifest (detector_manifest.h),
// so another detector of the same output family needs no code.
//
// Thread-safety: Detect is thread-safe. Letterboxing and decoding run on the
// caller's thread; forward passes are serialised by a mutex (one network, one
// pass at a time, each using `threads` intra-op threads). libtorch keeps an
// OpenMP thread team per calling thread: call Detect from a few long-lived
// threads rather than from many.
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "image/image.h"
#include "model/boxes.h"
#include "model/detector_manifest.h"

namespace photosearch {

struct DetectorOptions {
  std::string runtime;  // "" = the manifest's; else torch|torchscript|opencv|opencv-dnn
  int threads = 0;      // intra-op threads; 0 = one per core
  // libtorch: freeze and fuse the graph for inference (optimize_for_inference).
  // false only to measure what that buys (bench_detect --no-fuse 1).
  bool fuse = true;
};

// How an image was placed on the network's input canvas: input pixel =
// image pixel * scale + (offset_x, offset_y).
struct Letterbox {
  float scale = 1;
  float offset_x = 0;
  float offset_y = 0;
};

class Detector {
 public:
  // Loads the detector that the manifest at `path` (a model.json or its
  // folder) describes, on options.runtime or the manifest's default, and warms
  // it up. Loading runs on a short-lived thread (see PhotoEmbedder::Load).
  static absl::StatusOr<std::unique_ptr<Detector>> Load(const std::string& path,
                                                        const DetectorOptions& options = {});
  ~Detector();

  // The objects and proposals found on `image` (see Detections). None is not
  // an error.
  absl::StatusOr<Detections> Detect(const Image& image);

  // Runs the forward passes through `executor` (which must call the function
  // it is given, on any thread, and return when it has run), e.g. on the
  // embedder's worker thread: BatchingEmbedder::RunOnWorker. Set before the
  // first Detect.
  void set_forward_executor(std::function<void(const std::function<void()>&)> executor) {
    executor_ = std::move(executor);
  }

  const DetectorManifest& manifest() const { return manifest_; }
  const std::string& runtime() const { return runtime_name_; }  // canonical name

  class Runtime;  // the network on one runtime (detector_runtime.h)

 private:
  Detector(DetectorManifest manifest, std::string runtime_name, std::unique_ptr<Runtime> runtime);

  // Constant after construction.
  const DetectorManifest manifest_;
  const std::string runtime_name_;

  std::function<void(const std::function<void()>&)> executor_;  // set before use

  std::mutex mu_;
  const std::unique_ptr<Runtime> runtime_ ABSL_PT_GUARDED_BY(mu_);
};

// The building blocks of Detect, exposed for tests and tools (box geometry and
// NMS are in boxes.h). All thread-safe.

// The smallest side the decoder may downscale an image to for this detector
// (DecodeOptions::min_side): the longer side of the network input.
int DetectorDecodeMinSide(const DetectorManifest& m);

// Floats in one letterboxed input: 3 * input_height * input_width.
size_t DetectorInputSize(const DetectorManifest& m);

// Letterboxes `image` into `out` (NCHW, DetectorInputSize(m) floats) and
// returns the placement. REQUIRES: `out` holds DetectorInputSize(m) floats.
absl::StatusOr<Letterbox> LetterboxImage(const Image& image, const DetectorManifest& m, float* out);

// Decodes a "yolox" output of `rows` x `cols` floats (rows == m.ExpectedRows(),
// cols == 5 + classes) into boxes on an image of image_width x image_height
// placed by `box`: threshold, clamp, NMS (see Detections).
absl::StatusOr<Detections> DecodeYoloxOutput(const float* output, int rows, int cols,
                                             const DetectorManifest& m, const Letterbox& box,
                                             int image_width, int image_height);

}  // namespace photosearch
