#include "model/preprocess.h"

#include <algorithm>
#include <cmath>
#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>

#include "absl/strings/str_cat.h"

namespace photosearch {

int DecodeMinSide(const ModelManifest& m) {
  if (m.resize_shorter_side > 0) return m.resize_shorter_side;
  return std::max(m.input_width, m.input_height);
}

absl::Status Preprocess(const Image& image, const ModelManifest& m, float* out) {
  if (image.width <= 0 || image.height <= 0 ||
      image.rgb.size() != static_cast<size_t>(image.width) * image.height * 3) {
    return absl::InvalidArgumentError("preprocess: empty or inconsistent image");
  }
  try {
    cv::Mat src(image.height, image.width, CV_8UC3, const_cast<uint8_t*>(image.rgb.data()));
    int target_w = m.input_width, target_h = m.input_height;
    if (m.center_crop && m.resize_shorter_side > 0) {
      // A strip (2 x 19999 pixels, a 6 KB JPEG) would be resized to 256 x 2.5
      // million pixels (2 GB, 10 s) only to keep its central square: keep the
      // central part of the long side, kMaxPreprocessAspect times the short
      // side, first. Photos within that ratio are untouched.
      // The kept part has the parity of the long side, so that it is centred
      // exactly.
      const int shorter = std::min(src.cols, src.rows);
      const int keep = kMaxPreprocessAspect * shorter;
      if (src.cols > keep) {
        const int w = keep + ((src.cols - keep) & 1);
        src = src(cv::Rect((src.cols - w) / 2, 0, w, src.rows));
      }
      if (src.rows > keep) {
        const int h = keep + ((src.rows - keep) & 1);
        src = src(cv::Rect(0, (src.rows - h) / 2, src.cols, h));
      }
      double s = static_cast<double>(m.resize_shorter_side) / shorter;
      target_w = std::max(m.input_width, static_cast<int>(std::lround(src.cols * s)));
      target_h = std::max(m.input_height, static_cast<int>(std::lround(src.rows * s)));
    }
    // Bilinear aliases when shrinking more than 2x (a PNG at full size, say):
    // area averaging is what the bilinear reference sees after its own decode.
    bool big_shrink = target_w * 2 < src.cols || target_h * 2 < src.rows;
    int interpolation =
        (m.interpolation == "area" || big_shrink) ? cv::INTER_AREA : cv::INTER_LINEAR;
    cv::Mat resized;
    if (target_w == src.cols && target_h == src.rows) {
      resized = src;
    } else {
      cv::resize(src, resized, cv::Size(target_w, target_h), 0, 0, interpolation);
    }
    int x0 = (resized.cols - m.input_width) / 2;
    int y0 = (resized.rows - m.input_height) / 2;
    cv::Mat crop = resized(cv::Rect(x0, y0, m.input_width, m.input_height));

    const size_t plane = static_cast<size_t>(m.input_width) * m.input_height;
    float a[3], b[3];
    for (int c = 0; c < 3; ++c) {
      a[c] = 1.f / (m.scale * m.std[c]);
      b[c] = -m.mean[c] / m.std[c];
    }
    // Source channel for each output channel.
    const int src_channel[3] = {m.rgb ? 0 : 2, 1, m.rgb ? 2 : 0};
    float* planes[3] = {out, out + plane, out + 2 * plane};
    size_t i = 0;
    for (int y = 0; y < crop.rows; ++y) {
      const uint8_t* row = crop.ptr<uint8_t>(y);
      for (int x = 0; x < crop.cols; ++x, ++i) {
        const uint8_t* px = row + 3 * x;
        for (int c = 0; c < 3; ++c) planes[c][i] = px[src_channel[c]] * a[c] + b[c];
      }
    }
  } catch (const cv::Exception& e) {
    return absl::InternalError(absl::StrCat("preprocess: ", e.what()));
  }
  return absl::OkStatus();
}

}  // namespace photosearch
