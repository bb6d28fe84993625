// Detector: a decoded image -> labelled boxes, on one of two runtimes: libtorch
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
#include "model/detector_manifest.h"

namespace photosearch {

// One detected object. Coordinates are pixels of the image given to Detect
// (its width x height, not Image::source_width), clamped to
// 0 <= x0 < x1 <= width and 0 <= y0 < y1 <= height.
struct Detection {
  float x0 = 0, y0 = 0, x1 = 0, y1 = 0;
  int class_id = -1;
  std::string class_name;
  float score = 0;  // objectness * class probability, in [0, 1]

  float width() const { return x1 - x0; }
  float height() const { return y1 - y0; }
};

struct DetectorOptions {
  std::string runtime;  // "" = the manifest's; else torch|torchscript|opencv|opencv-dnn
  int threads = 0;      // intra-op threads; 0 = one per core
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

  // Boxes scoring at least the manifest's threshold after class-wise NMS,
  // best first, at most thresholds.max_detections of them. None is not an error.
  absl::StatusOr<std::vector<Detection>> Detect(const Image& image);

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

// The building blocks of Detect, exposed for tests and tools. All thread-safe.

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
// placed by `box`: threshold, clamp, class-wise NMS, best first.
absl::StatusOr<std::vector<Detection>> DecodeYoloxOutput(const float* output, int rows, int cols,
                                                         const DetectorManifest& m,
                                                         const Letterbox& box, int image_width,
                                                         int image_height);

// Moves boxes detected on `image` (which the decoder may have scaled down) to
// the pixels of the photo as stored (Image::source_width x source_height).
void ToStoredPixels(const Image& image, std::vector<Detection>* boxes);

// Intersection over union of two boxes (0 when either is empty).
float BoxIoU(const Detection& a, const Detection& b);

// Greedy NMS within each class: keeps the best box, drops any box of the same
// class overlapping a kept one by IoU > iou_threshold. Returns at most
// `max_keep` boxes, best first.
std::vector<Detection> ClassWiseNms(std::vector<Detection> boxes, float iou_threshold,
                                    int max_keep);

}  // namespace photosearch
