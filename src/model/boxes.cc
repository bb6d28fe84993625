#include "model/boxes.h"

#include <algorithm>

namespace photosearch {

void ToStoredPixels(const Image& image, std::vector<Detection>* boxes) {
  if (image.width <= 0 || image.height <= 0) return;
  const float sx =
      static_cast<float>(image.source_width > 0 ? image.source_width : image.width) / image.width;
  const float sy =
      static_cast<float>(image.source_height > 0 ? image.source_height : image.height) /
      image.height;
  for (Detection& d : *boxes) {
    d.x0 *= sx, d.x1 *= sx;
    d.y0 *= sy, d.y1 *= sy;
  }
}

float BoxIoU(const Detection& a, const Detection& b) {
  const float iw = std::min(a.x1, b.x1) - std::max(a.x0, b.x0);
  const float ih = std::min(a.y1, b.y1) - std::max(a.y0, b.y0);
  if (iw <= 0 || ih <= 0) return 0.f;
  const float inter = iw * ih;
  const float uni = a.width() * a.height() + b.width() * b.height() - inter;
  return uni > 0 ? inter / uni : 0.f;
}

std::vector<Detection> ClassWiseNms(std::vector<Detection> boxes, float iou_threshold,
                                    int max_keep) {
  return Nms(std::move(boxes), iou_threshold, max_keep, /*within_class=*/true, &Detection::score);
}

std::vector<Detection> Nms(std::vector<Detection> boxes, float iou_threshold, int max_keep,
                           bool within_class, float Detection::*rank) {
  std::stable_sort(boxes.begin(), boxes.end(),
                   [rank](const Detection& a, const Detection& b) { return a.*rank > b.*rank; });
  std::vector<Detection> kept;
  for (Detection& candidate : boxes) {
    if (static_cast<int>(kept.size()) >= max_keep) break;
    bool suppressed = false;
    for (const Detection& k : kept) {
      if ((!within_class || k.class_id == candidate.class_id) &&
          BoxIoU(k, candidate) > iou_threshold) {
        suppressed = true;
        break;
      }
    }
    if (!suppressed) kept.push_back(std::move(candidate));
  }
  return kept;
}

}  // namespace photosearch
