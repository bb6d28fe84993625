// The network of a Detector on one runtime. Internal to src/model: only
// detector.cc and the runtime adapters (torch_detector.cc, opencv_detector.cc)
// include it, so that neither libtorch nor OpenCV DNN reaches detector.h.
//
// Thread-safety: Forward is NOT thread-safe; Detector serialises calls.
// Exceptions of the runtimes are caught inside the adapters.
#pragma once

#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "model/detector.h"

namespace photosearch {

// A [1, rows, cols] output tensor, row-major.
struct DetectorOutput {
  std::vector<float> values;  // size rows * cols
  int rows = 0;
  int cols = 0;
};

class Detector::Runtime {
 public:
  virtual ~Runtime() = default;
  // `input`: DetectorInputSize(manifest) floats, NCHW, batch 1.
  virtual absl::StatusOr<DetectorOutput> Forward(const float* input) = 0;
};

// One factory per translation unit, so that only torch_detector.cc includes torch.
absl::StatusOr<std::unique_ptr<Detector::Runtime>> LoadTorchDetectorRuntime(
    const DetectorManifest& manifest, const std::string& file, int threads, bool fuse);
absl::StatusOr<std::unique_ptr<Detector::Runtime>> LoadOpenCvDetectorRuntime(
    const DetectorManifest& manifest, const std::string& file, int threads);

}  // namespace photosearch
