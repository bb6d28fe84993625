#include "model/detect_policy.h"

#include <cmath>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace photosearch {
namespace {

using ::testing::HasSubstr;

// A labelled box whose objectness and score are both `score`.
Detection Box(float x0, float y0, float x1, float y1, float score, int cls = 0) {
  Detection d;
  d.x0 = x0, d.y0 = y0, d.x1 = x1, d.y1 = y1, d.class_id = cls;
  d.score = d.objectness = score;
  d.labelled = true;
  return d;
}

TEST(DetectPolicy, ParsesTheThreeNames) {
  for (DetectPolicy p : {DetectPolicy::kWhole, DetectPolicy::kPrimary, DetectPolicy::kAll}) {
    auto parsed = ParseDetectPolicy(DetectPolicyName(p));
    ASSERT_TRUE(parsed.ok());
    EXPECT_EQ(*parsed, p);
  }
  for (const char* bad : {"", "Primary", "largest", "all "}) {
    auto parsed = ParseDetectPolicy(bad);
    ASSERT_FALSE(parsed.ok()) << bad;
    EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(parsed.status().message()),
                HasSubstr("(expected whole, primary or all)"));
  }
  EXPECT_THAT(std::string(ParseDetectPolicy("largest").status().message()),
              HasSubstr("unknown detect policy 'largest'"));
}

TEST(DetectPolicy, SalienceWeighsAreaCentralityAndObjectness) {
  const int w = 1000, h = 800;
  // The same box in the centre, halfway to the top-left corner: half as salient.
  Detection centre = Box(400, 300, 600, 500, 0.8f);
  Detection halfway = Box(150, 100, 350, 300, 0.8f);
  EXPECT_NEAR(Salience(halfway, w, h), Salience(centre, w, h) / 2, 1e-9);
  // Four times the area counts twice as much.
  Detection big = Box(300, 200, 700, 600, 0.8f);  // same centre, 4x the area
  EXPECT_NEAR(Salience(big, w, h), 2 * Salience(centre, w, h), 1e-9);
  // So does four times the objectness; the class score plays no part.
  Detection unsure = Box(400, 300, 600, 500, 0.2f);
  EXPECT_NEAR(Salience(unsure, w, h), Salience(centre, w, h) / 2, 1e-9);
  unsure.score = 0.01f;
  EXPECT_NEAR(Salience(unsure, w, h), Salience(centre, w, h) / 2, 1e-9);
  EXPECT_NEAR(Salience(centre, w, h), std::sqrt(0.8 * 0.05), 1e-6);
  EXPECT_EQ(Salience(Box(5, 5, 5, 9, 0.9f), w, h), 0);  // empty box
  EXPECT_EQ(Salience(centre, 0, 0), 0);
}

// The person holding a thing, the table under it: context, weighted down
// (options.context_weight) so that a thing of some size wins over them.
TEST(DetectPolicy, ContextClassesYieldToThings) {
  const int w = 1000, h = 1000;
  Detection person = Box(100, 50, 900, 950, 0.95f);
  person.class_name = "person";
  Detection cup = Box(400, 400, 700, 700, 0.8f);
  cup.class_name = "cup";
  CropOptions options;
  EXPECT_EQ(PickPrimary({person, cup}, w, h, options), 0);  // without context classes
  options.context_classes = {"person", "diningtable"};
  EXPECT_EQ(PickPrimary({person, cup}, w, h, options), 1);
  EXPECT_EQ(PickPrimary({person}, w, h, options), 0);  // nothing else: the person
  // A box whose likeliest class is "person" at a low score is not known to be
  // one: not weighted down.
  Detection unsure_person = person;
  unsure_person.score = 0.05f;
  unsure_person.labelled = false;
  EXPECT_EQ(PickPrimary({unsure_person, cup}, w, h, options), 0);
  // A weight, not a veto: a sliver of a thing in a corner does not beat the person.
  Detection crumb = Box(900, 900, 1000, 1000, 0.3f);
  EXPECT_EQ(PickPrimary({person, crumb}, w, h, options), 0);
  options.context_weight = 0;
  EXPECT_EQ(PickPrimary({person, crumb}, w, h, options), 1);
}

TEST(DetectPolicy, PrimaryIsTheMostSalientLargeEnoughBox) {
  const int w = 1000, h = 1000;
  std::vector<Detection> boxes = {
      Box(0, 0, 150, 150, 0.95f),      // confident, small, in a corner
      Box(300, 250, 700, 750, 0.60f),  // large and central: the object of the photo
      Box(480, 480, 520, 520, 0.99f),  // tiny (0.16% of the image): never primary
  };
  EXPECT_EQ(PickPrimary(boxes, w, h), 1);
  EXPECT_EQ(PickPrimary({boxes[0], boxes[2]}, w, h), 0);
  EXPECT_EQ(PickPrimary({boxes[2]}, w, h), -1);
  CropOptions no_minimum;
  no_minimum.min_area_fraction = 0;
  EXPECT_EQ(PickPrimary({boxes[2]}, w, h, no_minimum), 0);
  EXPECT_EQ(PickPrimary({}, w, h), -1);
  // A box over (nearly) the whole photo is its scene: the smaller object wins,
  // and alone it is not used (the whole image is the same crop).
  Detection table = Box(0, 0, 1000, 990, 0.75f);
  Detection cup = Box(270, 40, 700, 740, 0.9f);
  EXPECT_EQ(PickPrimary({table, cup}, w, h), 1);
  EXPECT_EQ(PickPrimary({table}, w, h), -1);
  CropOptions no_maximum;
  no_maximum.max_area_fraction = 1;
  EXPECT_EQ(PickPrimary({table, cup}, w, h, no_maximum), 0);
}

TEST(DetectPolicy, CropsArePaddedAndClamped) {
  // 10% of 200 = 20 px left and right, 10% of 100 = 10 px top and bottom.
  CropRect c = PaddedCrop(Box(100, 50, 300, 150, 0.9f), 3, 640, 480);
  EXPECT_EQ(c, (CropRect{80, 40, 240, 120, 3}));
  // Fractional boxes are rounded outwards.
  CropOptions no_margin;
  no_margin.margin = 0;
  c = PaddedCrop(Box(100.5f, 50.5f, 200.2f, 100.2f, 0.9f), 0, 640, 480, no_margin);
  EXPECT_EQ(c, (CropRect{100, 50, 101, 51, 0}));
  // Near the edges the padding is cut at the image.
  c = PaddedCrop(Box(5, 2, 640, 480, 0.9f), 0, 640, 480);
  EXPECT_EQ(c, (CropRect{0, 0, 640, 480, 0}));
  // A degenerate box still gives a non-empty crop inside the image.
  c = PaddedCrop(Box(640, 480, 640, 480, 0.9f), 0, 640, 480);
  EXPECT_EQ(c, (CropRect{639, 479, 1, 1, 0}));
}

TEST(DetectPolicy, RegionsPerPolicy) {
  const int w = 400, h = 300;
  const CropRect whole{0, 0, w, h, -1};
  Detections found;
  found.objects = {Box(10, 10, 110, 110, 0.9f), Box(200, 100, 300, 200, 0.8f, 5),
                   Box(0, 0, 5, 5, 0.99f), Box(0, 0, 400, 300, 0.7f, 60)};
  found.proposals = found.objects;
  EXPECT_EQ(CropRegions(DetectPolicy::kWhole, found, w, h), std::vector<CropRect>{whole});
  EXPECT_EQ(CropRegions(DetectPolicy::kPrimary, {}, w, h), std::vector<CropRect>{whole});
  EXPECT_EQ(CropRegions(DetectPolicy::kAll, {}, w, h), std::vector<CropRect>{whole});

  std::vector<CropRect> primary = CropRegions(DetectPolicy::kPrimary, found, w, h);
  ASSERT_EQ(primary.size(), 1u);
  EXPECT_EQ(primary[0], PaddedCrop(found.objects[1], 1, w, h));  // more central than box 0
  // The primary object is chosen among the proposals, the rest among the objects.
  found.proposals = {Box(0, 0, 5, 5, 0.9f), Box(140, 80, 260, 220, 0.3f, 7)};
  primary = CropRegions(DetectPolicy::kPrimary, found, w, h);
  EXPECT_EQ(primary, std::vector<CropRect>{PaddedCrop(found.proposals[1], 1, w, h)});

  std::vector<CropRect> all = CropRegions(DetectPolicy::kAll, found, w, h);
  // The whole image first, then each object of a usable size, in the given order.
  EXPECT_EQ(all, (std::vector<CropRect>{whole, PaddedCrop(found.objects[0], 0, w, h),
                                        PaddedCrop(found.objects[1], 1, w, h)}));
}

TEST(DetectPolicy, PrimaryAmongObjectsFindsOrAppendsIt) {
  Detections found;
  found.objects = {Box(0, 0, 100, 100, 0.9f), Box(200, 0, 300, 100, 0.8f)};
  // Over object 1 (IoU 10,000 / 11,000 > 0.5): that object.
  found.proposals = {Box(200, 0, 300, 110, 0.9f), Box(0, 0, 100, 220, 0.4f)};
  EXPECT_EQ(PrimaryAmongObjects(&found, 0), 1);
  EXPECT_EQ(found.objects.size(), 2u);
  // Over no object well enough (IoU 100 / 220 with object 0): appended.
  EXPECT_EQ(PrimaryAmongObjects(&found, 1), 2);
  ASSERT_EQ(found.objects.size(), 3u);
  EXPECT_EQ(found.objects[2].y1, 220);
}

TEST(DetectPolicy, CropImageCopiesTheRegion) {
  Image image;
  image.width = 4;
  image.height = 3;
  image.source_width = 8;  // decoded at half size
  image.source_height = 6;
  for (int y = 0; y < 3; ++y) {
    for (int x = 0; x < 4; ++x) {
      image.rgb.insert(image.rgb.end(), {uint8_t(x), uint8_t(y), uint8_t(10 * y + x)});
    }
  }
  Image crop = CropImage(image, {1, 1, 2, 2, 0});
  EXPECT_EQ(crop.width, 2);
  EXPECT_EQ(crop.height, 2);
  EXPECT_EQ(crop.source_width, 4);
  EXPECT_EQ(crop.source_height, 4);
  EXPECT_EQ(crop.rgb, (std::vector<uint8_t>{1, 1, 11, 2, 1, 12, 1, 2, 21, 2, 2, 22}));
}

}  // namespace
}  // namespace photosearch
