// Which regions of a photo get embedded, given the detector's boxes. Indexing
// and queries share this code so that a listing photo and the same photo as a
// query are cut the same way.
//
//   kWhole    the whole image (detection off)
//   kPrimary  the most salient proposal (Detections::proposals), padded; the
//             whole image if none
//   kAll      the whole image, then one padded crop per object
//             (Detections::objects)
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
  // Labelled detections of these classes (DetectorManifest::context_classes)
  // have their salience multiplied by context_weight: the person holding a
  // thing, the table under it, win only when nothing else stands out. A box
  // whose likeliest class is one of them at a low score is not known to be one
  // and is not weighted.
  std::vector<std::string> context_classes;
  float context_weight = 0.25f;
};

// The crop options a detector's manifest implies (its context classes; the
// rest default): what indexing, queries and `photosearch detect` all cut with.
CropOptions CropOptionsFor(const DetectorManifest& m);

// A region of the image, in its pixels: [x, x + width) x [y, y + height).
struct CropRect {
  int x = 0;
  int y = 0;
  int width = 0;
  int height = 0;
  // Index into the list the policy chose from (Detections::proposals for
  // kPrimary, ::objects for kAll), or -1 for the whole image.
  int detection = -1;

  bool operator==(const CropRect&) const = default;
};

// How salient a detection is as "the" object of a photo:
//   sqrt(objectness * area fraction) * (1 - d)
// where d is the distance from the box centre to the image centre divided by
// half the image diagonal (0 at the centre, 1 in a corner). A box 4x larger,
// or 4x more surely an object, counts 2x; salience falls linearly from the
// centre to nothing in a corner (people centre what they photograph). The
// class score plays no part: the listed thing is often none of the
// detector's classes. Returns 0 for empty boxes/images.
//
// Chosen by measurement on composites (docs/PERFORMANCE.md): the class score,
// a weaker centre term (1 - 0.5 d) or a stricter threshold each found the
// pasted product less often.
double Salience(const Detection& d, int image_width, int image_height);

// Index of the most salient detection covering between options.min_area_fraction
// and options.max_area_fraction of the image (context classes weighted by
// options.context_weight), or -1 if there is none.
int PickPrimary(const std::vector<Detection>& detections, int image_width, int image_height,
                const CropOptions& options = {});

// The box padded by options.margin on each side, rounded outwards to whole
// pixels and clamped to the image; never empty. REQUIRES: image sides >= 1.
CropRect PaddedCrop(const Detection& d, int index, int image_width, int image_height,
                    const CropOptions& options = {});

// The regions to embed under `policy`; never empty (the whole image is the
// fallback). kPrimary picks among found.proposals; kAll lists the whole image
// first, then found.objects in their order (skipping those outside
// options.min/max_area_fraction).
std::vector<CropRect> CropRegions(DetectPolicy policy, const Detections& found, int image_width,
                                  int image_height, const CropOptions& options = {});

// Where proposal `p` (the primary object) stands among found->objects: the
// index of the object covering the same place (IoU >= 0.5, the best such),
// or, when no labelled object does, the index it gets appended at.
int PrimaryAmongObjects(Detections* found, int p);

// A copy of `rect` of `image`. source_width/height are scaled with it, so they
// keep meaning "this region's size in the encoded photo".
// REQUIRES: `rect` lies inside the image and is not empty.
Image CropImage(const Image& image, const CropRect& rect);

}  // namespace photosearch
