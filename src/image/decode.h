// Bytes -> validated, decoded RGB image. JPEG goes through libjpeg-turbo with
// DCT-domain downscaling (a 12-megapixel photo for a 224-pixel model is decoded
// at 1/8 size); PNG and WebP through OpenCV.
//
// Thread-safety: all functions are thread-safe. Nothing is kept from one call
// to the next, so a corrupt photo cannot affect any later one.
// Errors: kInvalidArgument for bytes that are not a complete JPEG/PNG/WebP
// (empty, unknown format, truncated, corrupt); kResourceExhausted for inputs
// over a limit in DecodeLimits.
#pragma once

#include <string_view>

#include "absl/status/statusor.h"
#include "image/image.h"

namespace photosearch {

// What the header says, without decoding pixels.
struct ImageInfo {
  ImageFormat format = ImageFormat::kUnknown;
  int width = 0;
  int height = 0;
};

// Recognises the format by its magic bytes and reads the dimensions from the
// header. Fails for unknown formats and headers too short to hold dimensions.
absl::StatusOr<ImageInfo> ProbeImage(std::string_view bytes);

// Checks `bytes` and its header against `options.limits`, then decodes.
absl::StatusOr<Image> DecodeImage(std::string_view bytes, const DecodeOptions& options = {});

// Encodes RGB as JPEG at `quality` (1..100). For tests, tools and thumbnails.
absl::StatusOr<std::string> EncodeJpeg(const Image& image, int quality);

}  // namespace photosearch
