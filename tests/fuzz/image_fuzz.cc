// ProbeImage + DecodeImage (JPEG through libjpeg-turbo, PNG and WebP through
// OpenCV) on arbitrary bytes. Checks: what decodes is within the limits and
// consistent; decoding is deterministic; and a valid photo decoded right after
// the input gives exactly its own pixels (a failed decode must leave no state
// behind: the bug of issue 10).
#include <string>

#include "fuzz_target.h"
#include "image/decode.h"

namespace {

using photosearch::DecodeImage;
using photosearch::DecodeOptions;
using photosearch::Image;
using photosearch::fuzz::FuzzCheck;

// A small valid JPEG (and its pixels as decoded on a fresh thread state).
const std::string& ReferenceJpeg() {
  static const std::string jpeg = [] {
    Image image;
    image.width = 24;
    image.height = 16;
    image.rgb.resize(24 * 16 * 3);
    for (size_t i = 0; i < image.rgb.size(); ++i) image.rgb[i] = static_cast<uint8_t>(i * 37);
    return *photosearch::EncodeJpeg(image, 90);
  }();
  return jpeg;
}
const Image& ReferencePixels() {
  static const Image pixels = *DecodeImage(ReferenceJpeg());
  return pixels;
}

}  // namespace

PHOTOSEARCH_FUZZ_TARGET(image) {
  (void)ReferencePixels();  // before any fuzz input, as a fresh process decodes it
  // Small limits keep each run fast; the checks are the same at any size.
  DecodeOptions options;
  options.limits.max_pixels = 4'000'000;
  options.limits.max_side = 8000;
  options.min_side = data.size() % 3 == 0 ? 0 : 96;  // full size, or DCT-downscaled as served
  options.apply_exif_orientation = data.size() % 2 == 0;

  auto info = photosearch::ProbeImage(data);
  auto image = DecodeImage(data, options);
  if (image.ok()) {
    FuzzCheck(info.ok(), "decoded what ProbeImage refused");
    FuzzCheck(image->width > 0 && image->height > 0, "empty image decoded");
    FuzzCheck(image->rgb.size() == size_t(image->width) * image->height * 3, "rgb size");
    FuzzCheck(int64_t{image->source_width} * image->source_height <= options.limits.max_pixels,
              "over the pixel limit");
    FuzzCheck(image->width <= image->source_width && image->height <= image->source_height,
              "decoded larger than the source");
    auto again = DecodeImage(data, options);
    FuzzCheck(again.ok() && again->rgb == image->rgb, "decoding is not deterministic");
  } else {
    FuzzCheck(!image.status().message().empty(), "error without a message");
  }
  auto reference = DecodeImage(ReferenceJpeg());
  FuzzCheck(reference.ok(), "a valid JPEG failed after this input");
  FuzzCheck(reference->rgb == ReferencePixels().rgb, "a valid JPEG decoded differently");
}
