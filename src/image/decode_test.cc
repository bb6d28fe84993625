#include "image/decode.h"

#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <thread>

#include "absl/strings/str_cat.h"
#include "base/files.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "support/test_env.h"

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

// A textured photo-like image (gradients plus noise), so that each encoding
// has its own Huffman tables and a real entropy-coded scan.
Image Textured(int width, int height, uint32_t seed) {
  Image image;
  image.width = width;
  image.height = height;
  image.rgb.resize(static_cast<size_t>(width) * height * 3);
  uint32_t state = seed * 2654435761u + 1;
  for (size_t i = 0; i < image.rgb.size(); ++i) {
    state = state * 1664525u + 1013904223u;
    size_t px = i / 3;
    int x = static_cast<int>(px % width), y = static_cast<int>(px / width);
    int base = (i % 3 == 0) ? x * 255 / width : (i % 3 == 1) ? y * 255 / height : (x + y) % 256;
    image.rgb[i] = static_cast<uint8_t>((base + (state >> 27)) & 0xFF);
  }
  return image;
}

std::string EncodeWithOpenCv(const char* ext, const Image& image, std::vector<int> params = {}) {
  cv::Mat rgb(image.height, image.width, CV_8UC3, const_cast<uint8_t*>(image.rgb.data()));
  cv::Mat bgr;
  cv::cvtColor(rgb, bgr, cv::COLOR_RGB2BGR);
  std::vector<uchar> out;
  EXPECT_TRUE(cv::imencode(ext, bgr, out, params));
  return std::string(out.begin(), out.end());
}

// Broken variants of `bytes`: bit flips in the header and in the body,
// truncations, a header spliced onto another body, zeroed and repeated
// segments. Deterministic for a seed.
std::vector<std::string> Corruptions(const std::string& bytes, const std::string& other,
                                     uint32_t seed) {
  std::vector<std::string> out;
  uint32_t state = seed * 747796405u + 2891336453u;
  auto next = [&](size_t bound) {
    state = state * 1664525u + 1013904223u;
    return static_cast<size_t>(state >> 8) % bound;
  };
  size_t header = std::min<size_t>(bytes.size(), 640);
  for (int i = 0; i < 24; ++i) {  // bit flips within the headers (tables, frame)
    std::string b = bytes;
    for (int f = 0; f < 1 + i % 4; ++f) b[2 + next(header - 2)] ^= static_cast<char>(1 << next(8));
    out.push_back(std::move(b));
  }
  for (int i = 0; i < 8; ++i) {  // bit flips anywhere
    std::string b = bytes;
    for (int f = 0; f < 16; ++f) b[next(b.size())] ^= static_cast<char>(1 << next(8));
    out.push_back(std::move(b));
  }
  for (size_t cut :
       {size_t{3}, size_t{20}, size_t{100}, header, bytes.size() / 2, bytes.size() - 2}) {
    out.push_back(bytes.substr(0, std::min(cut, bytes.size())));
  }
  out.push_back(bytes.substr(0, header) + other.substr(std::min(other.size(), header)));
  out.push_back(bytes.substr(0, header / 2) + std::string(header, '\0') + bytes.substr(header));
  out.push_back(bytes.substr(0, header) + bytes.substr(0, header) + bytes.substr(header));
  return out;
}

std::string Describe(const Image& image) {
  return absl::StrCat(image.width, "x", image.height, " (source ", image.source_width, "x",
                      image.source_height, ")");
}

// Regression: a failed decode left the thread's TurboJPEG handle mid-header
// (tjDecompressHeader3 returns on error without aborting the decompressor),
// so every later JPEG on that thread failed ("two SOI markers", "Bogus Huffman
// table definition"). Every decoder must keep nothing from one photo to the
// next: each valid photo decodes to exactly the pixels it decodes to alone,
// whatever was decoded before it on the same thread.
TEST(Decode, CorruptPhotosDoNotAffectLaterOnesOnTheSameThread) {
  struct Valid {
    std::string name, bytes;
  };
  std::vector<Valid> valid;
  for (uint32_t seed = 1; seed <= 3; ++seed) {
    Image image = Textured(160 + 48 * seed, 120 + 40 * seed, seed);
    valid.push_back({absl::StrCat("jpeg q", 70 + 10 * seed), *EncodeJpeg(image, 70 + 10 * seed)});
    valid.push_back({absl::StrCat("png ", seed), EncodeWithOpenCv(".png", image)});
    valid.push_back({absl::StrCat("webp ", seed),
                     EncodeWithOpenCv(".webp", image, {cv::IMWRITE_WEBP_QUALITY, 75})});
  }
  valid.push_back({"lossless webp", EncodeWithOpenCv(".webp", Textured(90, 70, 9),
                                                     {cv::IMWRITE_WEBP_QUALITY, 101})});
  std::vector<DecodeOptions> option_sets(3);
  option_sets[1].min_side = 64;  // DCT-domain downscale, as the server decodes queries
  option_sets[2].apply_exif_orientation = false;

  // What each valid photo decodes to alone, on a thread that decoded nothing else.
  std::vector<std::vector<Image>> alone(valid.size());
  for (size_t v = 0; v < valid.size(); ++v) {
    for (const DecodeOptions& options : option_sets) {
      std::thread([&, v] {
        auto image = DecodeImage(valid[v].bytes, options);
        ASSERT_TRUE(image.ok()) << valid[v].name << ": " << image.status();
        alone[v].push_back(std::move(*image));
      }).join();
    }
    ASSERT_EQ(alone[v].size(), option_sets.size());
  }

  // On this one thread: corrupt, valid, corrupt, valid, ... for every format,
  // probing and decoding the corrupt ones.
  int corrupt_refused = 0, checked = 0;
  for (size_t c = 0; c < valid.size(); ++c) {
    const std::string& other = valid[(c + 3) % valid.size()].bytes;
    std::vector<std::string> corrupt = Corruptions(valid[c].bytes, other, static_cast<uint32_t>(c));
    for (size_t i = 0; i < corrupt.size(); ++i) {
      const DecodeOptions& options = option_sets[i % option_sets.size()];
      (void)ProbeImage(corrupt[i]);
      if (!DecodeImage(corrupt[i], options).ok()) ++corrupt_refused;
      size_t v = (c + i) % valid.size();
      size_t o = (i / option_sets.size()) % option_sets.size();
      auto image = DecodeImage(valid[v].bytes, option_sets[o]);
      ASSERT_TRUE(image.ok()) << valid[v].name << " after corrupt variant " << i << " of "
                              << valid[c].name << ": " << image.status();
      const Image& expected = alone[v][o];
      ASSERT_EQ(Describe(*image), Describe(expected)) << valid[v].name;
      ASSERT_TRUE(image->rgb == expected.rgb)
          << valid[v].name << " decoded to other pixels after corrupt variant " << i << " of "
          << valid[c].name;
      ++checked;
    }
  }
  // The corruptions were real: most of them are refused.
  EXPECT_GT(corrupt_refused, checked / 2) << corrupt_refused << " of " << checked;
}

// Found by fuzzing: a progressive JPEG whose second scan redefines a Huffman
// table badly after a warning. TurboJPEG reported the fatal error as a warning
// (the warning flag is sticky), so its output buffer, never written, was
// accepted as the photo: uninitialised memory, different at every decode.
TEST(Decode, AFatalErrorAfterAWarningIsAnError) {
  auto bytes =
      ReadFile(testing::SourceDir() + "/tests/fuzz/corpus/image/regress_fatal_after_warning.jpg");
  ASSERT_TRUE(bytes.ok()) << bytes.status();
  for (int min_side : {0, 96}) {
    DecodeOptions options;
    options.min_side = min_side;
    auto image = DecodeImage(*bytes, options);
    ASSERT_FALSE(image.ok());
    EXPECT_THAT(std::string(image.status().message()),
                HasSubstr("corrupt JPEG: Bogus Huffman table definition"));
  }
}

// A JPEG that claims more pixels than its data holds ends its scan early:
// libjpeg fills the rest with grey. It is refused as truncated.
TEST(Decode, AScanThatEndsEarlyIsTruncated) {
  std::string jpeg = *EncodeJpeg(Textured(48, 32, 5), 80);
  size_t sof = jpeg.find("\xFF\xC0");
  ASSERT_NE(sof, std::string::npos);
  jpeg[sof + 5] = 0x07, jpeg[sof + 6] = static_cast<char>(0xD0);  // height 2000
  jpeg[sof + 7] = 0x07, jpeg[sof + 8] = static_cast<char>(0xD0);  // width 2000
  auto image = DecodeImage(jpeg);
  ASSERT_FALSE(image.ok());
  EXPECT_THAT(std::string(image.status().message()), HasSubstr("truncated JPEG"));
}

// An arithmetic-coded scan that ends early decodes zeros without a warning,
// so such files are refused before decoding (SOF9: sequential, arithmetic).
TEST(Decode, ArithmeticCodedJpegsAreRefused) {
  std::string jpeg = *EncodeJpeg(Textured(32, 32, 3), 80);
  size_t sof = jpeg.find("\xFF\xC0");
  ASSERT_NE(sof, std::string::npos);
  jpeg[sof + 1] = static_cast<char>(0xC9);
  auto image = DecodeImage(jpeg);
  ASSERT_FALSE(image.ok());
  EXPECT_THAT(std::string(image.status().message()), HasSubstr("arithmetic-coded JPEG"));
}

// Each scan of a progressive JPEG re-reads every coefficient: thousands of
// tiny scans cost seconds of CPU for a few kilobytes. They are refused.
TEST(Decode, ProgressiveJpegsWithTooManyScansAreRefused) {
  cv::Mat img(64, 64, CV_8UC3, cv::Scalar(10, 200, 30));
  std::vector<uchar> out;
  ASSERT_TRUE(cv::imencode(".jpg", img, out, {cv::IMWRITE_JPEG_PROGRESSIVE, 1}));
  std::string jpeg(out.begin(), out.end());
  ASSERT_TRUE(DecodeImage(jpeg).ok());
  // Repeat the last scan (an AC refinement scan, harmless to repeat) past the limit.
  size_t last_sos = jpeg.rfind("\xFF\xDA");
  size_t eoi = jpeg.rfind("\xFF\xD9");
  ASSERT_TRUE(last_sos != std::string::npos && eoi != std::string::npos && last_sos < eoi);
  const std::string scan = jpeg.substr(last_sos, eoi - last_sos);
  std::string many = jpeg.substr(0, eoi);
  for (int i = 0; i < 600; ++i) many += scan;
  many += "\xFF\xD9";
  auto image = DecodeImage(many);
  ASSERT_FALSE(image.ok());
  EXPECT_THAT(std::string(image.status().message()), HasSubstr("more than 500 scans"));
}

TEST(Decode, EncodeJpegRejectsBadArguments) {
  EXPECT_FALSE(EncodeJpeg(Image{}, 90).ok());
  EXPECT_FALSE(EncodeJpeg(TwoColour(8, 8), 0).ok());
  EXPECT_FALSE(EncodeJpeg(TwoColour(8, 8), 101).ok());
}

}  // namespace
}  // namespace photosearch
