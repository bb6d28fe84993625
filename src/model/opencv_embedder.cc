// The OpenCV DNN runtime, for ONNX models.
#include <opencv2/core.hpp>
#include <opencv2/dnn.hpp>

#include "absl/strings/str_cat.h"
#include "model/embedder.h"
#include "model/preprocess.h"

namespace photosearch {
namespace {

class OpenCvEmbedder : public Embedder {
 public:
  OpenCvEmbedder(ModelManifest manifest, cv::dnn::Net net, int threads)
      : Embedder(std::move(manifest)), net_(std::move(net)), threads_(threads) {}

  // OpenCV's thread count is process-wide.
  void ConfigureCallingThread() override { cv::setNumThreads(threads_); }

 protected:
  absl::StatusOr<std::vector<float>> Forward(const float* input, int n) override {
    const ModelManifest& m = manifest();
    try {
      int dims[4] = {n, 3, m.input_height, m.input_width};
      cv::Mat blob(4, dims, CV_32F, const_cast<float*>(input));
      net_.setInput(blob);
      cv::Mat y = net_.forward(m.output_name);
      if (y.dims == 4) {
        int channels = y.size[1];
        int spatial = y.size[2] * y.size[3];
        if (m.pooling == "none") {
          return absl::InternalError(
              absl::StrCat("model ", m.id, ": 4-D output needs output.pooling mean or max"));
        }
        std::vector<float> out(static_cast<size_t>(n) * channels);
        for (int i = 0; i < n; ++i) {
          for (int c = 0; c < channels; ++c) {
            const float* p = y.ptr<float>(i, c);
            float acc = m.pooling == "mean" ? 0.f : p[0];
            for (int s = 0; s < spatial; ++s)
              acc = m.pooling == "mean" ? acc + p[s] : std::max(acc, p[s]);
            out[static_cast<size_t>(i) * channels + c] = m.pooling == "mean" ? acc / spatial : acc;
          }
        }
        if (channels != m.dimension) {
          return absl::InternalError(absl::StrCat("model ", m.id, " output has ", channels,
                                                  " channels, manifest says ", m.dimension));
        }
        return out;
      }
      if (y.total() != static_cast<size_t>(n) * m.dimension) {
        return absl::InternalError(absl::StrCat("model ", m.id, " output has ", y.total(),
                                                " values for ", n, " inputs of dimension ",
                                                m.dimension));
      }
      const float* data = y.ptr<float>();
      return std::vector<float>(data, data + y.total());
    } catch (const cv::Exception& e) {
      return absl::InternalError(absl::StrCat("OpenCV DNN forward of ", m.id, ": ", e.what()));
    }
  }

 private:
  cv::dnn::Net net_;  // not thread-safe: one caller at a time
  const int threads_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<Embedder>> LoadOpenCvEmbedder(const ModelManifest& manifest,
                                                             const EmbedderOptions& options) {
  try {
    cv::setNumThreads(options.threads);
    cv::dnn::Net net = cv::dnn::readNetFromONNX(manifest.file);
    if (net.empty()) {
      return absl::InvalidArgumentError(absl::StrCat("OpenCV could not read ", manifest.file));
    }
    net.setPreferableBackend(cv::dnn::DNN_BACKEND_OPENCV);
    net.setPreferableTarget(cv::dnn::DNN_TARGET_CPU);
    return std::unique_ptr<Embedder>(new OpenCvEmbedder(manifest, std::move(net), options.threads));
  } catch (const cv::Exception& e) {
    return absl::InvalidArgumentError(
        absl::StrCat("loading ONNX model ", manifest.file, ": ", e.what()));
  }
}

}  // namespace photosearch
