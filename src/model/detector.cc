#include "model/detector.h"

#include <algorithm>
#include <cmath>
#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>
#include <thread>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "model/detector_runtime.h"
#include "model/embedder.h"

namespace photosearch {

Detector::Detector(DetectorManifest manifest, std::string runtime_name,
                   std::unique_ptr<Runtime> runtime)
    : manifest_(std::move(manifest)),
      runtime_name_(std::move(runtime_name)),
      runtime_(std::move(runtime)) {}

Detector::~Detector() = default;

absl::StatusOr<std::unique_ptr<Detector>> Detector::Load(const std::string& path,
                                                         const DetectorOptions& options) {
  ASSIGN_OR_RETURN(DetectorManifest manifest, LoadDetectorManifest(path));
  std::string runtime_name = manifest.runtime;
  if (!options.runtime.empty()) {
    ASSIGN_OR_RETURN(runtime_name, CanonicalRuntime(options.runtime));
  }
  auto file = manifest.files.find(runtime_name);
  if (file == manifest.files.end()) {
    return absl::InvalidArgumentError(absl::StrCat(manifest.manifest_path, ": detector ",
                                                   manifest.id, " has no file for runtime ",
                                                   runtime_name));
  }
  const int threads = options.threads > 0
                          ? options.threads
                          : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  // Load and warm up on a thread that then exits, for the reason given in
  // PhotoEmbedder::Load: an OpenMP team that outlives its use makes every later
  // parallel region of the process pay futex wake-ups.
  absl::StatusOr<std::unique_ptr<Runtime>> runtime = absl::UnknownError("not loaded");
  std::thread loader([&] {
    runtime = runtime_name == "torchscript"
                  ? LoadTorchDetectorRuntime(manifest, file->second, threads, options.fuse)
                  : LoadOpenCvDetectorRuntime(manifest, file->second, threads);
    if (!runtime.ok()) return;
    // The first passes specialise the graph (libtorch, oneDNN): pay for them now.
    std::vector<float> zeros(DetectorInputSize(manifest), 0.f);
    for (int i = 0; i < 2; ++i) {
      auto out = (*runtime)->Forward(zeros.data());
      if (!out.ok()) {
        runtime = Annotate(out.status(), absl::StrCat("warming up detector ", manifest.id));
        return;
      }
      if (out->rows != manifest.ExpectedRows() ||
          out->cols != 5 + static_cast<int>(manifest.class_names.size())) {
        runtime = absl::InvalidArgumentError(absl::StrCat(
            "detector ", manifest.id, " (", file->second, ") outputs [", out->rows, ",", out->cols,
            "] but its manifest implies [", manifest.ExpectedRows(), ",",
            5 + manifest.class_names.size(), "] (input size, output.strides, classes)"));
        return;
      }
    }
  });
  loader.join();
  if (!runtime.ok()) return runtime.status();
  return std::unique_ptr<Detector>(
      new Detector(std::move(manifest), std::move(runtime_name), std::move(*runtime)));
}

absl::StatusOr<Detections> Detector::Detect(const Image& image) {
  std::vector<float> input(DetectorInputSize(manifest_));
  ASSIGN_OR_RETURN(Letterbox box, LetterboxImage(image, manifest_, input.data()));
  absl::StatusOr<DetectorOutput> out;
  auto forward = [&] {
    std::lock_guard<std::mutex> lock(mu_);
    out = runtime_->Forward(input.data());
  };
  if (executor_) {
    executor_(forward);
  } else {
    forward();
  }
  if (!out.ok()) return MarkModelError(out.status());
  // A network whose output does not decode is the model's fault, not the photo's.
  absl::StatusOr<Detections> decoded = DecodeYoloxOutput(
      out->values.data(), out->rows, out->cols, manifest_, box, image.width, image.height);
  if (!decoded.ok()) return MarkModelError(decoded.status());
  return decoded;
}

int DetectorDecodeMinSide(const DetectorManifest& m) {
  return std::max(m.input_width, m.input_height);
}

size_t DetectorInputSize(const DetectorManifest& m) {
  return size_t{3} * m.input_width * m.input_height;
}

absl::StatusOr<Letterbox> LetterboxImage(const Image& image, const DetectorManifest& m,
                                         float* out) {
  if (image.width <= 0 || image.height <= 0 ||
      image.rgb.size() != static_cast<size_t>(image.width) * image.height * 3) {
    return absl::InvalidArgumentError("letterbox: empty or inconsistent image");
  }
  Letterbox box;
  box.scale = std::min(static_cast<float>(m.input_width) / image.width,
                       static_cast<float>(m.input_height) / image.height);
  // Truncated like the YOLOX reference (int(w * r)); at least one pixel.
  const int w = std::clamp(static_cast<int>(image.width * box.scale), 1, m.input_width);
  const int h = std::clamp(static_cast<int>(image.height * box.scale), 1, m.input_height);
  const int x0 = m.letterbox_center ? (m.input_width - w) / 2 : 0;
  const int y0 = m.letterbox_center ? (m.input_height - h) / 2 : 0;
  box.offset_x = static_cast<float>(x0);
  box.offset_y = static_cast<float>(y0);

  float a[3], b[3];
  for (int c = 0; c < 3; ++c) {
    a[c] = 1.f / (m.scale * m.std[c]);
    b[c] = -m.mean[c] / m.std[c];
  }
  const int src_channel[3] = {m.rgb ? 0 : 2, 1, m.rgb ? 2 : 0};  // RGB source
  const size_t plane = static_cast<size_t>(m.input_width) * m.input_height;
  for (int c = 0; c < 3; ++c)
    std::fill(out + c * plane, out + (c + 1) * plane, m.pad_value * a[c] + b[c]);
  try {
    cv::Mat src(image.height, image.width, CV_8UC3, const_cast<uint8_t*>(image.rgb.data()));
    cv::Mat resized;
    if (w == image.width && h == image.height) {
      resized = src;
    } else {
      cv::resize(src, resized, cv::Size(w, h), 0, 0,
                 m.area_interpolation ? cv::INTER_AREA : cv::INTER_LINEAR);
    }
    for (int y = 0; y < h; ++y) {
      const uint8_t* row = resized.ptr<uint8_t>(y);
      const size_t base = static_cast<size_t>(y + y0) * m.input_width + x0;
      for (int c = 0; c < 3; ++c) {
        float* dst = out + c * plane + base;
        const uint8_t* px = row + src_channel[c];
        for (int x = 0; x < w; ++x) dst[x] = px[3 * x] * a[c] + b[c];
      }
    }
  } catch (const cv::Exception& e) {
    return absl::InternalError(absl::StrCat("letterbox: ", e.what()));
  }
  return box;
}

absl::StatusOr<Detections> DecodeYoloxOutput(const float* output, int rows, int cols,
                                             const DetectorManifest& m, const Letterbox& box,
                                             int image_width, int image_height) {
  const int classes = static_cast<int>(m.class_names.size());
  if (rows != m.ExpectedRows() || cols != 5 + classes) {
    return absl::InternalError(absl::StrCat("detector ", m.id, " output is [", rows, ",", cols,
                                            "], expected [", m.ExpectedRows(), ",", 5 + classes,
                                            "]"));
  }
  if (!(box.scale > 0)) return absl::InvalidArgumentError("decode: letterbox scale must be > 0");
  const float max_x = static_cast<float>(image_width);
  const float max_y = static_cast<float>(image_height);
  std::vector<Detection> objects, proposals;
  const float min_objectness = std::min(m.score_threshold, m.objectness_threshold);
  int row = 0;
  for (int stride : m.strides) {
    const int grid_w = m.input_width / stride;
    const int grid_h = m.input_height / stride;
    for (int gy = 0; gy < grid_h; ++gy) {
      for (int gx = 0; gx < grid_w; ++gx, ++row) {
        const float* r = output + static_cast<size_t>(row) * cols;
        const float objectness = r[4];
        // Class probabilities are <= 1, so score <= objectness.
        if (!(objectness >= min_objectness)) continue;
        // The likeliest class; NaN probabilities count as 0.
        const float* cls = r + 5;
        int best = 0;
        float best_p = 0;
        for (int c = 0; c < classes; ++c) {
          if (cls[c] > best_p) best = c, best_p = cls[c];
        }
        const float score = objectness * best_p;
        const bool is_object = score >= m.score_threshold;
        const bool is_proposal = objectness >= m.objectness_threshold;
        if (!is_object && !is_proposal) continue;
        const float cx = (r[0] + gx) * stride;
        const float cy = (r[1] + gy) * stride;
        const float w = std::exp(r[2]) * stride;
        const float h = std::exp(r[3]) * stride;
        Detection d;
        d.x0 = std::clamp((cx - w / 2 - box.offset_x) / box.scale, 0.f, max_x);
        d.y0 = std::clamp((cy - h / 2 - box.offset_y) / box.scale, 0.f, max_y);
        d.x1 = std::clamp((cx + w / 2 - box.offset_x) / box.scale, 0.f, max_x);
        d.y1 = std::clamp((cy + h / 2 - box.offset_y) / box.scale, 0.f, max_y);
        // NaN coordinates fail these comparisons too.
        if (!(d.x1 - d.x0 >= 1.f) || !(d.y1 - d.y0 >= 1.f)) continue;
        d.class_id = best;
        d.score = score;
        d.objectness = objectness;
        d.labelled = is_object;
        if (is_proposal) proposals.push_back(d);
        if (is_object) objects.push_back(std::move(d));
      }
    }
  }
  Detections found;
  found.objects = ClassWiseNms(std::move(objects), m.iou_threshold, m.max_detections);
  found.proposals = Nms(std::move(proposals), m.iou_threshold, m.max_detections,
                        /*within_class=*/false, &Detection::objectness);
  for (auto* list : {&found.objects, &found.proposals}) {
    for (Detection& d : *list) d.class_name = m.class_names[d.class_id];
  }
  return found;
}

}  // namespace photosearch
