// The OpenCV DNN runtime of Detector, for ONNX models.
#include <opencv2/core.hpp>
#include <opencv2/dnn.hpp>

#include "absl/strings/str_cat.h"
#include "model/detector_runtime.h"

namespace photosearch {
namespace {

class OpenCvDetectorRuntime : public Detector::Runtime {
 public:
  OpenCvDetectorRuntime(const DetectorManifest& manifest, cv::dnn::Net net)
      : id_(manifest.id),
        height_(manifest.input_height),
        width_(manifest.input_width),
        output_name_(manifest.output_name),
        net_(std::move(net)) {}

  absl::StatusOr<DetectorOutput> Forward(const float* input) override {
    try {
      int dims[4] = {1, 3, height_, width_};
      cv::Mat blob(4, dims, CV_32F, const_cast<float*>(input));
      net_.setInput(blob);
      cv::Mat y = output_name_.empty() ? net_.forward() : net_.forward(output_name_);
      if (y.type() != CV_32F) {
        return absl::InternalError(absl::StrCat("detector ", id_, ": output is not float32"));
      }
      DetectorOutput out;
      if (y.dims == 3 && y.size[0] == 1) {
        out.rows = y.size[1];
        out.cols = y.size[2];
      } else if (y.dims == 2) {
        out.rows = y.size[0];
        out.cols = y.size[1];
      } else {
        return absl::InternalError(absl::StrCat("detector ", id_, ": output has ", y.dims,
                                                " dimensions, expected [1,N,5+C]"));
      }
      if (!y.isContinuous()) y = y.clone();
      const float* data = y.ptr<float>();
      out.values.assign(data, data + static_cast<size_t>(out.rows) * out.cols);
      return out;
    } catch (const cv::Exception& e) {
      return absl::InternalError(
          absl::StrCat("OpenCV DNN forward of detector ", id_, ": ", e.what()));
    }
  }

 private:
  const std::string id_;
  const int height_;
  const int width_;
  const std::string output_name_;
  cv::dnn::Net net_;  // not thread-safe: Detector serialises calls
};

}  // namespace

absl::StatusOr<std::unique_ptr<Detector::Runtime>> LoadOpenCvDetectorRuntime(
    const DetectorManifest& manifest, const std::string& file, int threads) {
  try {
    cv::setNumThreads(threads);  // process-wide in OpenCV
    cv::dnn::Net net = cv::dnn::readNetFromONNX(file);
    if (net.empty()) {
      return absl::InvalidArgumentError(absl::StrCat("OpenCV could not read detector ", file));
    }
    net.setPreferableBackend(cv::dnn::DNN_BACKEND_OPENCV);
    net.setPreferableTarget(cv::dnn::DNN_TARGET_CPU);
    return std::unique_ptr<Detector::Runtime>(new OpenCvDetectorRuntime(manifest, std::move(net)));
  } catch (const cv::Exception& e) {
    return absl::InvalidArgumentError(absl::StrCat("loading ONNX detector ", file, ": ", e.what()));
  }
}

}  // namespace photosearch
