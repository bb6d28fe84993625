// Which regions of a photo get embedded, given the detector's boxes. Indexing
// and queries share this code so that a listing photo and the same photo as a
// query are cut the same way.
//
//   kWhole    the whole image (detection off)
//   kPrimary  the most salient detection, padded; the whole image if none
//   kAll      the whole image, then one padded crop per detection
//
// Thread-safe (pure functions).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "image/image.h"
#include "model/detector.h"

namespace photosearch {

enum class DetectPolicy { kWhole, kPrimary, kAll };

// "whole" | "primary" | "all" (exactly; lower case).
absl::StatusOr<DetectPolicy> ParseDetectPolicy(std::string_view name);
const char* DetectPolicyName(DetectPolicy policy);

struct CropOptions {
  // Padding added on each side of a box, as a fraction of its width (left,
  // right) and height (top, bottom), before clamping to the image: context
  // around the object helps the embedder, and boxes are often a little tight.
  float margin = 0.1f;
  // Boxes smaller than this fraction of the image area are not used: a crop of
  // a few pixels, upscaled to the embedder's input, describes nothing.
  float min_area_fraction = 0.01f;
  // Boxes larger than this fraction are the scene rather than an object in it
  // (the dining table under a cup, a cat filling the frame): their padded crop
  // is about the whole image, which the fallback already gives. Not used either.
  float max_area_fraction = 0.9f;
  // Detections of these classes (DetectorManifest::context_classes) are
  // chosen as the primary object only when no other detection is usable.
  std::vector<std::string> context_classes;
};

// A region of the image, in its pixels: [x, x + width) x [y, y + height).
struct CropRect {
  int x = 0;
  int y = 0;
  int width = 0;
  int height = 0;
  int detection = -1;  // index into the detections, or -1 for the whole image

  bool operator==(const CropRect&) const = default;
};

// How salient a detection is as "the" object of a photo:
//   score * sqrt(area fraction) * (1 - 0.5 * d)
// where d is the distance from the box centre to the image centre divided by
// half the image diagonal (0 at the centre, 1 in a corner). A box 4x larger
// counts 2x; an object in a corner counts half as much as the same in the
// centre; confidence scales it linearly. Returns 0 for empty boxes/images.
double Salience(const Detection& d, int image_width, int image_height);

// Index of the most salient detection covering between options.min_area_fraction
// and options.max_area_fraction of the image, or -1 if there is none.
int PickPrimary(const std::vector<Detection>& detections, int image_width, int image_height,
                const CropOptions& options = {});

// The box padded by options.margin on each side, rounded outwards to whole
// pixels and clamped to the image; never empty. REQUIRES: image sides >= 1.
CropRect PaddedCrop(const Detection& d, int index, int image_width, int image_height,
                    const CropOptions& options = {});

// The regions to embed under `policy`; never empty (the whole image is the
// fallback). kAll lists the whole image first, then detections in the order
// given (skipping those outside options.min/max_area_fraction).
std::vector<CropRect> CropRegions(DetectPolicy policy, const std::vector<Detection>& detections,
                                  int image_width, int image_height,
                                  const CropOptions& options = {});

// A copy of `rect` of `image`. source_width/height are scaled with it, so they
// keep meaning "this region's size in the encoded photo".
// REQUIRES: `rect` lies inside the image and is not empty.
Image CropImage(const Image& image, const CropRect& rect);

}  // namespace photosearch
