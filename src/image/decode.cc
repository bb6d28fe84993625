#include "image/decode.h"

#include <turbojpeg.h>

#include <cstring>
#include <memory>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "absl/strings/str_cat.h"
#include "image/jpeg.h"

namespace photosearch {

const char* ImageFormatName(ImageFormat format) {
  switch (format) {
    case ImageFormat::kJpeg:
      return "JPEG";
    case ImageFormat::kPng:
      return "PNG";
    case ImageFormat::kWebp:
      return "WebP";
    case ImageFormat::kUnknown:
      break;
  }
  return "unknown";
}

namespace {

uint32_t ReadBe32(const unsigned char* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | p[3];
}
uint32_t ReadLe16(const unsigned char* p) { return uint32_t{p[0]} | (uint32_t{p[1]} << 8); }
uint32_t ReadLe24(const unsigned char* p) { return ReadLe16(p) | (uint32_t{p[2]} << 16); }

ImageFormat SniffFormat(std::string_view bytes) {
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
  if (bytes.size() >= 3 && p[0] == 0xFF && p[1] == 0xD8 && p[2] == 0xFF) return ImageFormat::kJpeg;
  if (bytes.size() >= 8 && std::memcmp(p, "\x89PNG\r\n\x1a\n", 8) == 0) return ImageFormat::kPng;
  if (bytes.size() >= 12 && std::memcmp(p, "RIFF", 4) == 0 && std::memcmp(p + 8, "WEBP", 4) == 0) {
    return ImageFormat::kWebp;
  }
  return ImageFormat::kUnknown;
}

absl::StatusOr<ImageInfo> ProbeJpeg(std::string_view bytes) {
  absl::StatusOr<jpeg::Header> header = jpeg::ReadHeader(bytes);
  if (!header.ok()) return header.status();
  return ImageInfo{ImageFormat::kJpeg, header->width, header->height};
}

absl::StatusOr<ImageInfo> ProbePng(std::string_view bytes) {
  // Signature (8), then the IHDR chunk: length (4), "IHDR", width (4), height (4).
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
  if (bytes.size() < 24 || std::memcmp(p + 12, "IHDR", 4) != 0) {
    return absl::InvalidArgumentError("corrupt PNG: no IHDR header");
  }
  uint32_t width = ReadBe32(p + 16), height = ReadBe32(p + 20);
  if (width == 0 || height == 0 || width > (1u << 30) || height > (1u << 30)) {
    return absl::InvalidArgumentError("corrupt PNG: impossible dimensions in IHDR");
  }
  return ImageInfo{ImageFormat::kPng, static_cast<int>(width), static_cast<int>(height)};
}

absl::StatusOr<ImageInfo> ProbeWebp(std::string_view bytes) {
  // RIFF header (12), then the first chunk: FourCC (4), size (4), payload.
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
  if (bytes.size() < 30) return absl::InvalidArgumentError("corrupt WebP: header too short");
  const unsigned char* chunk = p + 12;
  const unsigned char* data = p + 20;
  uint32_t width = 0, height = 0;
  if (std::memcmp(chunk, "VP8 ", 4) == 0) {
    // Lossy: frame tag (3), start code 9d 01 2a, 14-bit width and height.
    if (data[3] != 0x9d || data[4] != 0x01 || data[5] != 0x2a) {
      return absl::InvalidArgumentError("corrupt WebP: bad VP8 start code");
    }
    width = ReadLe16(data + 6) & 0x3fff;
    height = ReadLe16(data + 8) & 0x3fff;
  } else if (std::memcmp(chunk, "VP8L", 4) == 0) {
    // Lossless: signature 0x2f, then 14 bits width-1 and 14 bits height-1.
    if (data[0] != 0x2f) return absl::InvalidArgumentError("corrupt WebP: bad VP8L signature");
    uint32_t bits = uint32_t{data[1]} | (uint32_t{data[2]} << 8) | (uint32_t{data[3]} << 16) |
                    (uint32_t{data[4]} << 24);
    width = (bits & 0x3fff) + 1;
    height = ((bits >> 14) & 0x3fff) + 1;
  } else if (std::memcmp(chunk, "VP8X", 4) == 0) {
    // Extended: flags (4), canvas width-1 (24 bits), canvas height-1 (24 bits).
    width = ReadLe24(data + 4) + 1;
    height = ReadLe24(data + 7) + 1;
  } else {
    return absl::InvalidArgumentError("corrupt WebP: unknown first chunk");
  }
  if (width == 0 || height == 0) return absl::InvalidArgumentError("corrupt WebP: zero size");
  return ImageInfo{ImageFormat::kWebp, static_cast<int>(width), static_cast<int>(height)};
}

// The EXIF orientation (1..8) of a JPEG, or 1 when it has none.
int JpegExifOrientation(std::string_view bytes) {
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
  size_t n = bytes.size();
  size_t pos = 2;  // after SOI
  while (pos + 4 <= n && p[pos] == 0xFF) {
    unsigned marker = p[pos + 1];
    if (marker == 0xDA || marker == 0xD9) break;  // start of scan / end of image
    size_t length = (size_t{p[pos + 2]} << 8) | p[pos + 3];
    if (length < 2 || pos + 2 + length > n) break;
    const unsigned char* seg = p + pos + 4;
    size_t seg_len = length - 2;
    if (marker == 0xE1 && seg_len >= 14 && std::memcmp(seg, "Exif\0\0", 6) == 0) {
      const unsigned char* tiff = seg + 6;
      size_t tiff_len = seg_len - 6;
      bool little = tiff[0] == 'I' && tiff[1] == 'I';
      bool big = tiff[0] == 'M' && tiff[1] == 'M';
      if (!little && !big) return 1;
      auto u16 = [&](size_t off) -> uint32_t {
        return little ? (uint32_t{tiff[off]} | (uint32_t{tiff[off + 1]} << 8))
                      : ((uint32_t{tiff[off]} << 8) | tiff[off + 1]);
      };
      auto u32 = [&](size_t off) -> uint32_t {
        return little ? (u16(off) | (u16(off + 2) << 16)) : ((u16(off) << 16) | u16(off + 2));
      };
      size_t ifd = u32(4);
      if (ifd + 2 > tiff_len) return 1;
      uint32_t entries = u16(ifd);
      for (uint32_t e = 0; e < entries; ++e) {
        size_t entry = ifd + 2 + 12 * size_t{e};
        if (entry + 12 > tiff_len) return 1;
        if (u16(entry) == 0x0112) {
          uint32_t value = u16(entry + 8);
          return value >= 1 && value <= 8 ? static_cast<int>(value) : 1;
        }
      }
      return 1;
    }
    pos += 2 + length;
  }
  return 1;
}

// Applies EXIF orientation `orientation` to `mat` (any type) in place.
void Orient(cv::Mat& mat, int orientation) {
  cv::Mat out;
  switch (orientation) {
    case 2:
      cv::flip(mat, out, 1);
      break;
    case 3:
      cv::flip(mat, out, -1);
      break;
    case 4:
      cv::flip(mat, out, 0);
      break;
    case 5:
      cv::transpose(mat, out);
      break;
    case 6:
      cv::rotate(mat, out, cv::ROTATE_90_CLOCKWISE);
      break;
    case 7:
      cv::transpose(mat, out);
      cv::flip(out, out, -1);
      break;
    case 8:
      cv::rotate(mat, out, cv::ROTATE_90_COUNTERCLOCKWISE);
      break;
    default:
      return;
  }
  mat = out;
}

Image FromMat(const cv::Mat& rgb, int source_width, int source_height) {
  Image image;
  image.width = rgb.cols;
  image.height = rgb.rows;
  image.source_width = source_width;
  image.source_height = source_height;
  image.rgb.resize(static_cast<size_t>(rgb.rows) * rgb.cols * 3);
  cv::Mat dst(rgb.rows, rgb.cols, CV_8UC3, image.rgb.data());
  rgb.copyTo(dst);
  return image;
}

absl::StatusOr<Image> DecodeJpeg(std::string_view bytes, const ImageInfo& info,
                                 const DecodeOptions& options) {
  // The smallest n/8 scale that keeps both sides >= min_side (libjpeg rounds
  // the scaled size up).
  int eighths = 8;
  if (options.min_side > 0) {
    for (int n = 7; n >= 1; --n) {
      const int64_t w = (int64_t{info.width} * n + 7) / 8, h = (int64_t{info.height} * n + 7) / 8;
      if (w < options.min_side || h < options.min_side) break;
      eighths = n;
    }
  }
  absl::StatusOr<jpeg::Pixels> pixels = jpeg::DecodeRgb(bytes, eighths);
  if (!pixels.ok()) return pixels.status();
  const int orientation = options.apply_exif_orientation ? JpegExifOrientation(bytes) : 1;
  const bool swaps = orientation >= 5;
  const int source_width = swaps ? info.height : info.width;
  const int source_height = swaps ? info.width : info.height;
  if (orientation == 1) {
    Image image;
    image.width = pixels->width;
    image.height = pixels->height;
    image.source_width = source_width;
    image.source_height = source_height;
    image.rgb = std::move(pixels->rgb);
    return image;
  }
  cv::Mat rgb(pixels->height, pixels->width, CV_8UC3, pixels->rgb.data());
  Orient(rgb, orientation);
  return FromMat(rgb, source_width, source_height);
}

absl::StatusOr<Image> DecodeWithOpenCv(std::string_view bytes, const ImageInfo& info) {
  try {
    cv::Mat encoded(1, static_cast<int>(bytes.size()), CV_8UC1, const_cast<char*>(bytes.data()));
    // IMREAD_COLOR converts grey, 16-bit and alpha to 8-bit BGR, and applies EXIF
    // orientation where the format carries it.
    cv::Mat bgr = cv::imdecode(encoded, cv::IMREAD_COLOR);
    if (bgr.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("corrupt or truncated ", ImageFormatName(info.format)));
    }
    cv::Mat rgb;
    cv::cvtColor(bgr, rgb, cv::COLOR_BGR2RGB);
    return FromMat(rgb, rgb.cols, rgb.rows);
  } catch (const cv::Exception& e) {
    return absl::InvalidArgumentError(
        absl::StrCat("corrupt ", ImageFormatName(info.format), ": ", e.what()));
  }
}

}  // namespace

absl::StatusOr<ImageInfo> ProbeImage(std::string_view bytes) {
  if (bytes.empty()) return absl::InvalidArgumentError("empty image: no bytes");
  switch (SniffFormat(bytes)) {
    case ImageFormat::kJpeg:
      return ProbeJpeg(bytes);
    case ImageFormat::kPng:
      return ProbePng(bytes);
    case ImageFormat::kWebp:
      return ProbeWebp(bytes);
    case ImageFormat::kUnknown:
      break;
  }
  return absl::InvalidArgumentError("not an image: the bytes are not JPEG, PNG or WebP");
}

absl::StatusOr<Image> DecodeImage(std::string_view bytes, const DecodeOptions& options) {
  const DecodeLimits& limits = options.limits;
  if (bytes.size() > limits.max_bytes) {
    return absl::ResourceExhaustedError(
        absl::StrCat("image is ", bytes.size(), " bytes, over the limit of ", limits.max_bytes));
  }
  auto info = ProbeImage(bytes);
  if (!info.ok()) return info.status();
  int64_t pixels = int64_t{info->width} * info->height;
  if (info->width > limits.max_side || info->height > limits.max_side ||
      pixels > limits.max_pixels) {
    return absl::ResourceExhaustedError(
        absl::StrCat(ImageFormatName(info->format), " header claims ", info->width, "x",
                     info->height, " pixels, over the limit of ", limits.max_pixels, " pixels or ",
                     limits.max_side, " per side"));
  }
  if (info->format == ImageFormat::kJpeg) return DecodeJpeg(bytes, *info, options);
  return DecodeWithOpenCv(bytes, *info);
}

absl::StatusOr<std::string> EncodeJpeg(const Image& image, int quality) {
  if (image.width <= 0 || image.height <= 0 ||
      image.rgb.size() != static_cast<size_t>(image.width) * image.height * 3) {
    return absl::InvalidArgumentError("EncodeJpeg: empty or inconsistent image");
  }
  if (quality < 1 || quality > 100) {
    return absl::InvalidArgumentError(absl::StrCat("JPEG quality ", quality, " not in 1..100"));
  }
  std::unique_ptr<void, int (*)(tjhandle)> handle(tjInitCompress(), tjDestroy);
  if (!handle) return absl::InternalError("cannot create a JPEG compressor");
  unsigned char* out = nullptr;
  unsigned long out_size = 0;
  if (tjCompress2(handle.get(), image.rgb.data(), image.width, 0, image.height, TJPF_RGB, &out,
                  &out_size, TJSAMP_420, quality, 0) != 0) {
    std::string message = tjGetErrorStr2(handle.get());
    tjFree(out);
    return absl::InternalError(absl::StrCat("JPEG encode failed: ", message));
  }
  std::string encoded(reinterpret_cast<char*>(out), out_size);
  tjFree(out);
  return encoded;
}

}  // namespace photosearch
