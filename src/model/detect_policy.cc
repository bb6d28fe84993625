#include "model/detect_policy.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace photosearch {

absl::StatusOr<DetectPolicy> ParseDetectPolicy(std::string_view name) {
  if (name == "whole") return DetectPolicy::kWhole;
  if (name == "primary") return DetectPolicy::kPrimary;
  if (name == "all") return DetectPolicy::kAll;
  return absl::InvalidArgumentError(absl::StrCat("unknown detect policy '", std::string(name),
                                                 "' (expected whole, primary or all)"));
}

const char* DetectPolicyName(DetectPolicy policy) {
  switch (policy) {
    case DetectPolicy::kWhole:
      return "whole";
    case DetectPolicy::kPrimary:
      return "primary";
    case DetectPolicy::kAll:
      return "all";
  }
  return "?";
}

namespace {

double AreaFraction(const Detection& d, int image_width, int image_height) {
  if (image_width <= 0 || image_height <= 0) return 0;
  double area = std::max(0.f, d.width()) * double{std::max(0.f, d.height())};
  return area / (static_cast<double>(image_width) * image_height);
}

bool UsableSize(const Detection& d, int image_width, int image_height, const CropOptions& options) {
  const double area = AreaFraction(d, image_width, image_height);
  return area >= options.min_area_fraction && area <= options.max_area_fraction;
}

}  // namespace

CropOptions CropOptionsFor(const DetectorManifest& m) {
  CropOptions options;
  options.context_classes = m.context_classes;
  return options;
}

double Salience(const Detection& d, int image_width, int image_height) {
  const double area = AreaFraction(d, image_width, image_height);
  if (area <= 0) return 0;
  const double dx = (d.x0 + d.x1) / 2.0 - image_width / 2.0;
  const double dy = (d.y0 + d.y1) / 2.0 - image_height / 2.0;
  const double half_diagonal = std::hypot(image_width, image_height) / 2.0;
  const double off_centre = std::min(1.0, std::hypot(dx, dy) / half_diagonal);
  return std::sqrt(std::max(0.f, d.objectness) * std::min(1.0, area)) * (1.0 - off_centre);
}

int PickPrimary(const std::vector<Detection>& detections, int image_width, int image_height,
                const CropOptions& options) {
  int best = -1;
  double best_salience = 0;
  for (int i = 0; i < static_cast<int>(detections.size()); ++i) {
    const Detection& d = detections[i];
    if (!UsableSize(d, image_width, image_height, options)) continue;
    double s = Salience(d, image_width, image_height);
    if (d.labelled && std::find(options.context_classes.begin(), options.context_classes.end(),
                                d.class_name) != options.context_classes.end()) {
      s *= options.context_weight;
    }
    if (s > best_salience) {
      best = i;
      best_salience = s;
    }
  }
  return best;
}

CropRect PaddedCrop(const Detection& d, int index, int image_width, int image_height,
                    const CropOptions& options) {
  const double mx = options.margin * std::max(0.f, d.width());
  const double my = options.margin * std::max(0.f, d.height());
  int x0 = static_cast<int>(std::floor(d.x0 - mx));
  int y0 = static_cast<int>(std::floor(d.y0 - my));
  int x1 = static_cast<int>(std::ceil(d.x1 + mx));
  int y1 = static_cast<int>(std::ceil(d.y1 + my));
  x0 = std::clamp(x0, 0, image_width - 1);
  y0 = std::clamp(y0, 0, image_height - 1);
  x1 = std::clamp(x1, x0 + 1, image_width);
  y1 = std::clamp(y1, y0 + 1, image_height);
  return CropRect{x0, y0, x1 - x0, y1 - y0, index};
}

std::vector<CropRect> CropRegions(DetectPolicy policy, const Detections& found, int image_width,
                                  int image_height, const CropOptions& options) {
  const CropRect whole{0, 0, image_width, image_height, -1};
  switch (policy) {
    case DetectPolicy::kWhole:
      return {whole};
    case DetectPolicy::kPrimary: {
      int primary = PickPrimary(found.proposals, image_width, image_height, options);
      if (primary < 0) return {whole};
      return {PaddedCrop(found.proposals[primary], primary, image_width, image_height, options)};
    }
    case DetectPolicy::kAll: {
      std::vector<CropRect> crops = {whole};
      for (int i = 0; i < static_cast<int>(found.objects.size()); ++i) {
        if (!UsableSize(found.objects[i], image_width, image_height, options)) continue;
        crops.push_back(PaddedCrop(found.objects[i], i, image_width, image_height, options));
      }
      return crops;
    }
  }
  return {whole};
}

int PrimaryAmongObjects(Detections* found, int p) {
  const Detection& primary = found->proposals.at(p);
  int best = -1;
  float best_iou = 0.5f;
  for (int i = 0; i < static_cast<int>(found->objects.size()); ++i) {
    const float iou = BoxIoU(found->objects[i], primary);
    if (iou >= best_iou) {
      best = i;
      best_iou = iou;
    }
  }
  if (best >= 0) return best;
  found->objects.push_back(primary);
  return static_cast<int>(found->objects.size()) - 1;
}

Image CropImage(const Image& image, const CropRect& rect) {
  Image out;
  out.width = rect.width;
  out.height = rect.height;
  out.source_width = image.width > 0 && image.source_width > 0
                         ? static_cast<int>(std::lround(static_cast<double>(rect.width) *
                                                        image.source_width / image.width))
                         : rect.width;
  out.source_height = image.height > 0 && image.source_height > 0
                          ? static_cast<int>(std::lround(static_cast<double>(rect.height) *
                                                         image.source_height / image.height))
                          : rect.height;
  out.rgb.resize(static_cast<size_t>(rect.width) * rect.height * 3);
  const size_t row_bytes = static_cast<size_t>(rect.width) * 3;
  for (int y = 0; y < rect.height; ++y) {
    const uint8_t* src =
        image.rgb.data() + (static_cast<size_t>(rect.y + y) * image.width + rect.x) * 3;
    std::memcpy(out.rgb.data() + y * row_bytes, src, row_bytes);
  }
  return out;
}

}  // namespace photosearch
