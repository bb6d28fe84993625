// JPEG decoding through libjpeg-turbo's libjpeg API. Internal to src/image
// (DecodeImage is the interface).
//
// Each call makes its own decompressor and destroys it, whatever happens: no
// state outlives a photo. Fatal libjpeg errors end the call (setjmp/longjmp
// stays inside jpeg.cc); warnings are counted, and a truncated file or scan
// (libjpeg's "Premature end of JPEG file", "premature end of data segment")
// ends it at once as an error. Refused as well: files of more than
// kMaxJpegScans scans (each progressive scan re-reads the whole coefficient
// buffer, so a few kilobytes of empty scans cost seconds; TurboJPEG's
// TJFLAG_LIMITSCANS uses the same number), arithmetic-coded files (an early end
// of their scans cannot be detected), and decoders needing more than
// kMaxJpegMemoryBytes.
//
// Why not TurboJPEG's tjDecompress*: in libjpeg-turbo 2.1 a failed
// tjDecompressHeader3 leaves its handle mid-header (a reused handle then fails
// every later photo), and tjGetErrorCode reports TJERR_WARNING for a fatal
// error that follows any warning, so an output buffer that was never written
// passed as a decoded photo (found by fuzzing; see docs/FUZZING.md).
//
// Thread-safety: thread-safe (no shared state).
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace photosearch::jpeg {

inline constexpr int kMaxJpegScans = 500;
inline constexpr long kMaxJpegMemoryBytes = 1024L << 20;

struct Header {
  int width = 0;
  int height = 0;
};

// The frame header's dimensions. kInvalidArgument "corrupt JPEG (header): ...".
absl::StatusOr<Header> ReadHeader(std::string_view bytes);

struct Pixels {
  int width = 0;
  int height = 0;
  std::vector<uint8_t> rgb;  // height*width*3, rows top to bottom
};

// Decodes to RGB at scale `eighths`/8 (1..8; the DCT-domain downscale), every
// row written. kInvalidArgument "corrupt JPEG: ..." or "truncated JPEG: ...".
absl::StatusOr<Pixels> DecodeRgb(std::string_view bytes, int eighths);

}  // namespace photosearch::jpeg
