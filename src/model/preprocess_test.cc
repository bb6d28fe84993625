#include "model/preprocess.h"

#include <cmath>
#include <utility>

#include "gtest/gtest.h"

namespace photosearch {
namespace {

ModelManifest Manifest() {
  ModelManifest m;
  m.id = "t@1";
  m.input_width = 4;
  m.input_height = 4;
  m.resize_shorter_side = 8;
  m.center_crop = true;
  m.mean = {0.485f, 0.456f, 0.406f};
  m.std = {0.229f, 0.224f, 0.225f};
  m.dimension = 2;
  return m;
}

Image Solid(int w, int h, uint8_t r, uint8_t g, uint8_t b) {
  Image image;
  image.width = w;
  image.height = h;
  for (int i = 0; i < w * h; ++i) image.rgb.insert(image.rgb.end(), {r, g, b});
  return image;
}

TEST(Preprocess, NormalisesEachChannelIntoChwPlanes) {
  ModelManifest m = Manifest();
  std::vector<float> out(InputTensorSize(m));
  ASSERT_TRUE(Preprocess(Solid(20, 10, 255, 128, 0), m, out.data()).ok());
  const float expected[3] = {(1.f - 0.485f) / 0.229f, (128 / 255.f - 0.456f) / 0.224f,
                             (0.f - 0.406f) / 0.225f};
  for (int c = 0; c < 3; ++c) {
    for (int i = 0; i < 16; ++i) EXPECT_NEAR(out[c * 16 + i], expected[c], 1e-4) << c << "," << i;
  }
  m.rgb = false;  // BGR models see blue first
  ASSERT_TRUE(Preprocess(Solid(20, 10, 255, 128, 0), m, out.data()).ok());
  EXPECT_NEAR(out[0], (0.f - 0.485f) / 0.229f, 1e-4);
  EXPECT_NEAR(out[32], (1.f - 0.406f) / 0.225f, 1e-4);
}

TEST(Preprocess, CropsTheCentreAfterResizingTheShorterSide) {
  // 32x8: left quarter black, the rest white. Resized to 32x8 (shorter side 8
  // already), the centre 4x4 crop is x in [14, 18): all white.
  Image image = Solid(32, 8, 255, 255, 255);
  for (int y = 0; y < 8; ++y) {
    for (int x = 0; x < 8; ++x) {
      for (int c = 0; c < 3; ++c) image.rgb[(y * 32 + x) * 3 + c] = 0;
    }
  }
  ModelManifest m = Manifest();
  m.mean = {0, 0, 0};
  m.std = {1, 1, 1};
  std::vector<float> out(InputTensorSize(m));
  ASSERT_TRUE(Preprocess(image, m, out.data()).ok());
  for (float v : out) EXPECT_NEAR(v, 1.f, 1e-5);
  // Without a crop the whole width is squeezed in: the left column is dark.
  m.center_crop = false;
  ASSERT_TRUE(Preprocess(image, m, out.data()).ok());
  EXPECT_LT(out[0], 0.2f);
  EXPECT_NEAR(out[3], 1.f, 1e-5);
}

// Found while testing hostile photos: a 2 x 19999 strip was resized to 256 x
// 2.5 million pixels (2 GB, 10 s a query) for a 224 x 224 crop. Only the
// centre of a strip is used: the tensor equals that of its central part.
TEST(Preprocess, AStripIsCutToItsCentreBeforeResizing) {
  ModelManifest m = Manifest();
  m.input_width = m.input_height = 224;
  m.resize_shorter_side = 256;
  for (auto [w, h] : {std::pair{19999, 2}, std::pair{3, 17000}, std::pair{20000, 2}}) {
    Image strip = Solid(w, h, 10, 20, 30);
    for (size_t i = 0; i < strip.rgb.size(); ++i) strip.rgb[i] = static_cast<uint8_t>(i * 7 % 251);
    const int shorter = std::min(w, h), longer = std::max(w, h);
    const int keep = kMaxPreprocessAspect * shorter + ((longer - kMaxPreprocessAspect * shorter) & 1);
    Image centre;
    centre.width = w > h ? keep : w;
    centre.height = w > h ? h : keep;
    const int x0 = w > h ? (w - keep) / 2 : 0, y0 = w > h ? 0 : (h - keep) / 2;
    for (int y = 0; y < centre.height; ++y) {
      const uint8_t* row = &strip.rgb[(size_t(y + y0) * w + x0) * 3];
      centre.rgb.insert(centre.rgb.end(), row, row + size_t(centre.width) * 3);
    }
    std::vector<float> a(InputTensorSize(m)), b(InputTensorSize(m));
    ASSERT_TRUE(Preprocess(strip, m, a.data()).ok());
    ASSERT_TRUE(Preprocess(centre, m, b.data()).ok());
    EXPECT_EQ(a, b) << w << "x" << h;
  }
}

TEST(Preprocess, DecodeMinSideAndBadImages) {
  ModelManifest m = Manifest();
  EXPECT_EQ(DecodeMinSide(m), 8);
  m.resize_shorter_side = 0;
  EXPECT_EQ(DecodeMinSide(m), 4);
  std::vector<float> out(InputTensorSize(m));
  EXPECT_FALSE(Preprocess(Image{}, m, out.data()).ok());
  Image inconsistent = Solid(4, 4, 1, 2, 3);
  inconsistent.rgb.pop_back();
  EXPECT_FALSE(Preprocess(inconsistent, m, out.data()).ok());
}

}  // namespace
}  // namespace photosearch
