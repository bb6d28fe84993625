#include "image/decode.h"

#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace photosearch {
namespace {

using ::testing::HasSubstr;

// A width x height image, red on the left half, blue on the right.
Image TwoColour(int width, int height) {
  Image image;
  image.width = width;
  image.height = height;
  image.rgb.resize(static_cast<size_t>(width) * height * 3);
  for (int y = 0; y < height; ++y) {
    for (int x = 0; x < width; ++x) {
      uint8_t* px = &image.rgb[(static_cast<size_t>(y) * width + x) * 3];
      px[0] = x < width / 2 ? 220 : 10;
      px[1] = 10;
      px[2] = x < width / 2 ? 10 : 220;
    }
  }
  return image;
}

std::string Jpeg(int width, int height) { return *EncodeJpeg(TwoColour(width, height), 95); }

std::string OpenCvEncode(const char* ext, int width, int height, std::vector<int> params = {},
                         bool grey = false) {
  cv::Mat bgr(height, width, CV_8UC3, cv::Scalar(220, 10, 10));           // blue (BGR order)
  bgr(cv::Rect(0, 0, width / 2, height)).setTo(cv::Scalar(10, 10, 220));  // red left half
  cv::Mat img = bgr;
  if (grey) cv::cvtColor(bgr, img, cv::COLOR_BGR2GRAY);
  std::vector<uchar> out;
  EXPECT_TRUE(cv::imencode(ext, img, out, params));
  return std::string(out.begin(), out.end());
}

const uint8_t* Pixel(const Image& image, int x, int y) {
  return &image.rgb[(static_cast<size_t>(y) * image.width + x) * 3];
}

TEST(Decode, JpegFullSize) {
  auto image = DecodeImage(Jpeg(64, 48));
  ASSERT_TRUE(image.ok()) << image.status();
  EXPECT_EQ(image->width, 64);
  EXPECT_EQ(image->height, 48);
  EXPECT_EQ(image->source_width, 64);
  EXPECT_EQ(image->rgb.size(), 64u * 48 * 3);
  EXPECT_GT(Pixel(*image, 5, 5)[0], 180);   // red on the left
  EXPECT_GT(Pixel(*image, 60, 5)[2], 180);  // blue on the right
}

TEST(Decode, JpegIsDownscaledInTheDctDomain) {
  DecodeOptions options;
  options.min_side = 256;
  auto image = DecodeImage(Jpeg(1600, 1200), options);
  ASSERT_TRUE(image.ok()) << image.status();
  // 1/4 keeps 400x300 (both >= 256); 1/8 would give 200x150.
  EXPECT_EQ(image->width, 400);
  EXPECT_EQ(image->height, 300);
  EXPECT_EQ(image->source_width, 1600);
  EXPECT_EQ(image->source_height, 1200);
  // Never upscaled, never below min_side when the source allows it.
  options.min_side = 4000;
  EXPECT_EQ(DecodeImage(Jpeg(1600, 1200), options)->width, 1600);
}

TEST(Decode, PngWebpAndGrey) {
  for (auto [name, bytes] : std::vector<std::pair<std::string, std::string>>{
           {"png", OpenCvEncode(".png", 50, 30)},
           {"grey png", OpenCvEncode(".png", 50, 30, {}, /*grey=*/true)},
           {"lossy webp", OpenCvEncode(".webp", 50, 30, {cv::IMWRITE_WEBP_QUALITY, 80})},
           {"lossless webp", OpenCvEncode(".webp", 50, 30, {cv::IMWRITE_WEBP_QUALITY, 101})}}) {
    SCOPED_TRACE(name);
    auto info = ProbeImage(bytes);
    ASSERT_TRUE(info.ok()) << info.status();
    EXPECT_EQ(info->width, 50);
    EXPECT_EQ(info->height, 30);
    auto image = DecodeImage(bytes);
    ASSERT_TRUE(image.ok()) << image.status();
    EXPECT_EQ(image->width, 50);
    EXPECT_EQ(image->height, 30);
    EXPECT_EQ(image->rgb.size(), 50u * 30 * 3);
    if (name.find("grey") == std::string::npos) {
      EXPECT_GT(Pixel(*image, 2, 2)[0], 180);   // RGB order: red left
      EXPECT_GT(Pixel(*image, 47, 2)[2], 180);  // blue right
    }
  }
}

TEST(Decode, ExifOrientationIsApplied) {
  std::string jpeg = Jpeg(40, 20);
  // APP1 Exif, big-endian TIFF, IFD0 with one entry: Orientation (0x0112) = 6
  // (rotate 90 degrees clockwise to display).
  const unsigned char app1[] = {0xFF, 0xE1, 0x00, 0x22, 'E',  'x',  'i',  'f',  0,
                                0,    'M',  'M',  0x00, 0x2A, 0x00, 0x00, 0x00, 0x08,
                                0x00, 0x01, 0x01, 0x12, 0x00, 0x03, 0x00, 0x00, 0x00,
                                0x01, 0x00, 0x06, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00};
  jpeg.insert(2, reinterpret_cast<const char*>(app1), sizeof(app1));
  auto image = DecodeImage(jpeg);
  ASSERT_TRUE(image.ok()) << image.status();
  EXPECT_EQ(image->width, 20);
  EXPECT_EQ(image->height, 40);
  EXPECT_EQ(image->source_width, 20);
  EXPECT_GT(Pixel(*image, 10, 3)[0], 180);   // the left (red) half is now on top
  EXPECT_GT(Pixel(*image, 10, 36)[2], 180);  // the right (blue) half at the bottom
  DecodeOptions raw;
  raw.apply_exif_orientation = false;
  EXPECT_EQ(DecodeImage(jpeg, raw)->width, 40);
}

struct BadInput {
  std::string name;
  std::string bytes;
  absl::StatusCode code;
  std::string message;
};

std::vector<BadInput> BadInputs() {
  std::vector<BadInput> cases;
  cases.push_back({"empty", "", absl::StatusCode::kInvalidArgument, "empty image"});
  cases.push_back({"text", "hello, this is not an image at all", absl::StatusCode::kInvalidArgument,
                   "not an image"});
  std::string jpeg = Jpeg(256, 256);
  cases.push_back({"truncated jpeg", jpeg.substr(0, jpeg.size() / 2),
                   absl::StatusCode::kInvalidArgument, "truncated JPEG"});
  cases.push_back(
      {"jpeg header only", jpeg.substr(0, 40), absl::StatusCode::kInvalidArgument, "JPEG"});
  // A valid small JPEG whose frame header claims 30000x30000.
  std::string huge = jpeg;
  size_t sof = huge.find("\xFF\xC0");
  huge[sof + 5] = 0x75, huge[sof + 6] = 0x30;  // height 30000
  huge[sof + 7] = 0x75, huge[sof + 8] = 0x30;  // width 30000
  cases.push_back(
      {"jpeg claiming 30000x30000", huge, absl::StatusCode::kResourceExhausted, "30000x30000"});
  std::string png = OpenCvEncode(".png", 64, 64);
  cases.push_back(
      {"truncated png", png.substr(0, png.size() / 2), absl::StatusCode::kInvalidArgument, "PNG"});
  std::string huge_png = png;
  const char dims[] = {0, 0, 0x75, 0x30, 0, 0, 0x75, 0x30};
  huge_png.replace(16, 8, dims, 8);
  cases.push_back(
      {"png claiming 30000x30000", huge_png, absl::StatusCode::kResourceExhausted, "30000x30000"});
  std::string webp = OpenCvEncode(".webp", 64, 64, {cv::IMWRITE_WEBP_QUALITY, 80});
  cases.push_back({"truncated webp", webp.substr(0, webp.size() / 2),
                   absl::StatusCode::kInvalidArgument, "WebP"});
  cases.push_back({"riff but not webp", std::string("RIFF\x10\0\0\0WAVEfmt ", 16),
                   absl::StatusCode::kInvalidArgument, "not an image"});
  return cases;
}

TEST(Decode, BadInputsAreRefusedWithReasons) {
  for (const BadInput& c : BadInputs()) {
    SCOPED_TRACE(c.name);
    auto image = DecodeImage(c.bytes);
    ASSERT_FALSE(image.ok());
    EXPECT_EQ(image.status().code(), c.code) << image.status();
    EXPECT_THAT(std::string(image.status().message()), HasSubstr(c.message));
  }
}

TEST(Decode, LimitsAreCheckedBeforeDecoding) {
  DecodeOptions options;
  options.limits.max_bytes = 100;
  auto too_big = DecodeImage(Jpeg(64, 64), options);
  EXPECT_EQ(too_big.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(std::string(too_big.status().message()), HasSubstr("over the limit"));

  options = {};
  options.limits.max_pixels = 64 * 64 - 1;
  EXPECT_EQ(DecodeImage(Jpeg(64, 64), options).status().code(),
            absl::StatusCode::kResourceExhausted);
  options.limits.max_pixels = 64 * 64;
  EXPECT_TRUE(DecodeImage(Jpeg(64, 64), options).ok());
  options.limits.max_side = 63;
  EXPECT_EQ(DecodeImage(Jpeg(64, 64), options).status().code(),
            absl::StatusCode::kResourceExhausted);
}

TEST(Decode, EncodeJpegRejectsBadArguments) {
  EXPECT_FALSE(EncodeJpeg(Image{}, 90).ok());
  EXPECT_FALSE(EncodeJpeg(TwoColour(8, 8), 0).ok());
  EXPECT_FALSE(EncodeJpeg(TwoColour(8, 8), 101).ok());
}

}  // namespace
}  // namespace photosearch
