// Decoded images and the limits applied before decoding them.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace photosearch {

enum class ImageFormat { kUnknown, kJpeg, kPng, kWebp };

const char* ImageFormatName(ImageFormat format);

// An 8-bit RGB image, rows top to bottom, pixels interleaved R,G,B.
struct Image {
  int width = 0;
  int height = 0;
  // Size of the encoded image, upright, before any decode-time downscale (JPEG
  // DCT scaling), so that boxes found on the decoded image can be mapped back.
  int source_width = 0;
  int source_height = 0;
  std::vector<uint8_t> rgb;  // size height*width*3
};

// Bounds checked on the encoded bytes and on the header, before any pixel is
// decoded: a 200-byte file that claims 30000x30000 pixels is refused here.
struct DecodeLimits {
  uint64_t max_bytes = 20ull << 20;  // encoded size
  int64_t max_pixels = 50'000'000;   // width*height as the header claims
  int max_side = 20'000;             // either dimension
};

struct DecodeOptions {
  DecodeLimits limits;
  // The decoder may downscale (JPEG: in the DCT domain, by n/8) as long as both
  // sides stay >= min_side pixels. 0 decodes at full size.
  int min_side = 0;
  // Apply the EXIF orientation tag (JPEG), so that phone photos come out upright.
  bool apply_exif_orientation = true;
};

}  // namespace photosearch
