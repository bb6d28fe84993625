// The detector: manifest checks, YOLOX decoding on synthetic outputs (grid from
// the manifest, clamping, objects and proposals, NMS within and across
// classes), and the bundled YOLOX-Nano on the scene photos with both runtimes
// (each loaded once for the suite).
#include "model/detector.h"

#include <cmath>
#include <cstdio>

#include "base/files.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "image/decode.h"
#include "model/detect_policy.h"
#include "model/manifest.h"
#include "nlohmann/json.hpp"
#include "support/test_env.h"

namespace photosearch {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;

std::string DetectorDir() { return testing::SourceDir() + "/models/yolox_nano"; }

// A small made-up detector: 64x32 input, strides 16 and 32, three classes.
json TinyManifest() {
  return json::parse(R"({
    "schema_version": 1, "kind": "detector", "id": "tiny@1", "runtime": "torch",
    "files": {"torch": "tiny.pt"},
    "input": {"width": 64, "height": 32},
    "output": {"family": "yolox", "strides": [16, 32]},
    "thresholds": {"score": 0.3, "iou": 0.45},
    "classes": ["a", "b", "c"]
  })");
}

DetectorManifest Tiny() {
  auto m = ParseDetectorManifest(TinyManifest().dump(), "/models/tiny");
  EXPECT_TRUE(m.ok()) << m.status();
  return *m;
}

// Output rows for Tiny(): stride 16 is a 4x2 grid (rows 0..7), stride 32 a 2x1
// grid (rows 8..9); 8 columns (5 + 3 classes), all zero (no object).
std::vector<float> EmptyOutput() { return std::vector<float>(10 * 8, 0.f); }

void SetRow(std::vector<float>& out, int row, float tx, float ty, float w_cells, float h_cells,
            float obj, int cls, float cls_p) {
  float* r = out.data() + row * 8;
  r[0] = tx;
  r[1] = ty;
  r[2] = std::log(w_cells);
  r[3] = std::log(h_cells);
  r[4] = obj;
  r[5 + cls] = cls_p;
}

TEST(DetectorManifest, BundledManifestLoads) {
  auto m = LoadDetectorManifest(DetectorDir());  // a folder means its model.json
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(m->id, "yolox-nano-coco80@1");
  EXPECT_EQ(m->runtime, "torchscript");
  EXPECT_EQ(m->files.at("torchscript"), DetectorDir() + "/yolox_nano.torchscript.pt");
  EXPECT_EQ(m->files.at("opencv-dnn"), DetectorDir() + "/yolox_nano.onnx");
  EXPECT_EQ(m->input_width, 416);
  EXPECT_FALSE(m->rgb);
  EXPECT_EQ(m->strides, (std::vector<int>{8, 16, 32}));
  EXPECT_EQ(m->ExpectedRows(), 3549);  // 52^2 + 26^2 + 13^2
  ASSERT_EQ(m->class_names.size(), 80u);
  EXPECT_EQ(m->class_names[0], "person");
  EXPECT_EQ(m->class_names[79], "toothbrush");
  EXPECT_FLOAT_EQ(m->score_threshold, 0.3f);
  EXPECT_FLOAT_EQ(m->objectness_threshold, 0.1f);
  EXPECT_FLOAT_EQ(m->iou_threshold, 0.45f);
  EXPECT_FLOAT_EQ(Tiny().objectness_threshold, 0.3f);  // absent: the score threshold
  // Neither loader takes the other's manifest.
  auto as_embedder = LoadModelManifest(DetectorDir());
  EXPECT_THAT(std::string(as_embedder.status().message()), HasSubstr("not an embedding model"));
  auto as_detector = LoadDetectorManifest(testing::SourceDir() + "/models/mobilenetv2");
  EXPECT_THAT(std::string(as_detector.status().message()), HasSubstr("\"kind\" must be"));
}

TEST(DetectorManifest, RefusesBadFieldsWithTheFieldName) {
  struct Case {
    const char* pointer;
    json value;
    const char* message;
  };
  std::vector<Case> cases = {
      {"/kind", "embedder", "\"kind\" must be \"detector\""},
      {"/id", "noversion", "name@version"},
      {"/runtime", "tensorflow", "unknown runtime 'tensorflow'"},
      {"/runtime", "opencv", "no file for it"},
      {"/files", json::object(), "\"files\" must map"},
      {"/files/tflite", "m.tflite", "files: unknown runtime 'tflite'"},
      {"/input/width", 4, "8..4096"},
      {"/input/width", 72, "not a multiple of output stride 16"},
      {"/input/layout", "NHWC", "input.layout must be NCHW"},
      {"/input/color_order", "YUV", "color_order"},
      {"/input/std", json::array({1, 0, 1}), "input.std values must be > 0"},
      {"/letterbox", json{{"align", "bottom"}}, "letterbox.align"},
      {"/letterbox", json{{"pad_value", 300}}, "pad_value"},
      {"/output/family", "ssd", "output.family must be \"yolox\""},
      {"/output/strides", json::array(), "output.strides must be a non-empty array"},
      {"/output/strides", json::array({8, "x"}), "output.strides must be integers"},
      {"/output/sigmoid_applied", false, "sigmoid_applied"},
      {"/thresholds/iou", 1.5, "thresholds.iou must be in (0, 1]"},
      {"/thresholds/score", 0, "thresholds.score"},
      {"/thresholds/objectness", 1.1, "thresholds.objectness must be in (0, 1]"},
      {"/thresholds/max_detections", 0, "max_detections"},
      {"/classes", json::array(), "names no class"},
      {"/classes", 80, "a file name or an array"},
      {"/classes", "missing.txt", "classes file /models/tiny/missing.txt"},
      {"/input/width", "wide", "must be integers in 8..4096"},
      {"/id", 7, "wrong type of a field"},
      // Found by fuzzing: out-of-range numbers were cast (undefined behaviour).
      {"/letterbox", json{{"pad_value", 1e39}}, "letterbox.pad_value must be a number in 0..255"},
      {"/output/strides", json::array({8, 1e30}), "output.strides must be integers"},
      {"/output/strides", json::array({8, int64_t{4294967312}}), "output.strides must be integers"},
      {"/thresholds/max_detections", 1e12, "thresholds.max_detections must be an integer"},
      {"/thresholds/score", 1e39, "thresholds.score must be in (0, 1]"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.pointer);
    json j = TinyManifest();
    j[json::json_pointer(c.pointer)] = c.value;
    auto m = ParseDetectorManifest(j.dump(), "/models/tiny");
    ASSERT_FALSE(m.ok());
    EXPECT_EQ(m.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(m.status().message()), HasSubstr("detector manifest: "));
    EXPECT_THAT(std::string(m.status().message()), HasSubstr(c.message));
  }
  EXPECT_FALSE(ParseDetectorManifest("{not json", "/").ok());
  json no_classes = TinyManifest();
  no_classes.erase("classes");
  EXPECT_THAT(std::string(ParseDetectorManifest(no_classes.dump(), "/").status().message()),
              HasSubstr("\"classes\" is missing"));
  // A bad field in a manifest file names the file.
  testing::ScratchDir dir;
  json bad = TinyManifest();
  bad["thresholds"]["iou"] = -1;
  ASSERT_TRUE(WriteFileAtomic(dir / "model.json", bad.dump()).ok());
  auto loaded = Detector::Load(dir.path());
  ASSERT_FALSE(loaded.ok());
  EXPECT_THAT(std::string(loaded.status().message()),
              HasSubstr(dir / "model.json: detector manifest: thresholds.iou"));
}

TEST(DetectorManifest, RuntimeNames) {
  EXPECT_EQ(*CanonicalRuntime("torch"), "torchscript");
  EXPECT_EQ(*CanonicalRuntime("opencv"), "opencv-dnn");
  EXPECT_EQ(*CanonicalRuntime("onnx"), "opencv-dnn");
  EXPECT_FALSE(CanonicalRuntime("Torch").ok());
}

TEST(YoloxDecode, GridComesFromTheManifest) {
  DetectorManifest m = Tiny();
  EXPECT_EQ(m.ExpectedRows(), 10);
  std::vector<float> out = EmptyOutput();
  // Stride 16, cell (gx=1, gy=1) = row 1*4 + 1 = 5: centre (1.5*16, 1.5*16) =
  // (24, 24), size 2x1 cells = 32x16 -> [8, 16, 40, 32] on the input canvas.
  SetRow(out, 5, 0.5f, 0.5f, 2, 1, 0.9f, 1, 0.8f);
  // Stride 32, cell (gx=1, gy=0) = row 8 + 1 = 9: centre (48, 16), 0.5x0.5
  // cells = 16x16 -> [40, 8, 56, 24].
  SetRow(out, 9, 0.5f, 0.5f, 0.5f, 0.5f, 0.6f, 2, 1.0f);
  // Scores under the threshold: obj 0.9 * cls 0.3 = 0.27; obj 0.2.
  SetRow(out, 0, 0.5f, 0.5f, 1, 1, 0.9f, 0, 0.3f);
  SetRow(out, 2, 0.5f, 0.5f, 1, 1, 0.2f, 0, 1.0f);
  // The image was 128x64, letterboxed at scale 0.5 to the top-left.
  auto found = DecodeYoloxOutput(out.data(), 10, 8, m, Letterbox{0.5f, 0, 0}, 128, 64);
  ASSERT_TRUE(found.ok()) << found.status();
  const std::vector<Detection>* d = &found->objects;
  ASSERT_EQ(d->size(), 2u);
  EXPECT_EQ((*d)[0].class_name, "b");
  EXPECT_NEAR((*d)[0].score, 0.72f, 1e-6);
  EXPECT_NEAR((*d)[0].objectness, 0.9f, 1e-6);
  EXPECT_TRUE((*d)[0].labelled);
  EXPECT_NEAR((*d)[0].x0, 16, 1e-4);
  EXPECT_NEAR((*d)[0].y0, 32, 1e-4);
  EXPECT_NEAR((*d)[0].x1, 80, 1e-4);
  EXPECT_NEAR((*d)[0].y1, 64, 1e-4);
  EXPECT_EQ((*d)[1].class_id, 2);
  EXPECT_NEAR((*d)[1].x0, 80, 1e-4);
  EXPECT_NEAR((*d)[1].y1, 48, 1e-4);
  // Proposals go by objectness alone (threshold 0.3 here): row 0, a sure
  // object of no sure class, is one; row 2 (objectness 0.2) is not.
  const std::vector<Detection>& p = found->proposals;
  ASSERT_EQ(p.size(), 3u);
  EXPECT_NEAR(p[0].objectness, 0.9f, 1e-6);
  EXPECT_NEAR(p[1].objectness, 0.9f, 1e-6);
  EXPECT_NEAR(p[2].objectness, 0.6f, 1e-6);
  EXPECT_TRUE(p[0].class_name == "a" || p[1].class_name == "a");
  EXPECT_FALSE(p[0].class_name == "a" ? p[0].labelled : p[1].labelled);
  m.objectness_threshold = 0.95f;
  found = DecodeYoloxOutput(out.data(), 10, 8, m, Letterbox{0.5f, 0, 0}, 128, 64);
  EXPECT_TRUE(found->proposals.empty());
  EXPECT_EQ(found->objects.size(), 2u);  // unchanged
  m.objectness_threshold = 0.3f;

  // A centred letterbox is undone too.
  found = DecodeYoloxOutput(out.data(), 10, 8, m, Letterbox{0.25f, 16, 4}, 192, 96);
  ASSERT_TRUE(found.ok());
  d = &found->objects;
  EXPECT_NEAR((*d)[0].x0, 0, 1e-4);  // (8 - 16) / 0.25 < 0: clamped at the left edge
  EXPECT_NEAR((*d)[0].y0, (16 - 4) / 0.25f, 1e-4);
  EXPECT_NEAR((*d)[0].x1, (40 - 16) / 0.25f, 1e-4);

  // A wrong shape is an error, not a crash.
  EXPECT_EQ(DecodeYoloxOutput(out.data(), 9, 8, m, {}, 128, 64).status().code(),
            absl::StatusCode::kInternal);
  EXPECT_FALSE(DecodeYoloxOutput(out.data(), 10, 7, m, {}, 128, 64).ok());
}

TEST(YoloxDecode, BoxesAreClampedInsideTheImage) {
  DetectorManifest m = Tiny();
  std::vector<float> out = EmptyOutput();
  SetRow(out, 0, 0.f, 0.f, 4, 4, 0.9f, 0, 0.9f);    // spills over the top-left corner
  SetRow(out, 7, 1.f, 1.f, 3, 3, 0.9f, 1, 0.9f);    // over the bottom-right corner
  SetRow(out, 1, 0.5f, 0.5f, 1, 1, 0.9f, 2, NAN);   // NaN class score: no object
  SetRow(out, 5, 0.5f, 0.5f, 1, 1, 0.9f, 0, NAN);   // NaN in class 0 too
  SetRow(out, 3, 50.f, 0.5f, 1, 1, 0.9f, 2, 0.9f);  // entirely outside: dropped
  auto d = DecodeYoloxOutput(out.data(), 10, 8, m, Letterbox{1, 0, 0}, 60, 30);
  ASSERT_TRUE(d.ok());
  ASSERT_EQ(d->objects.size(), 2u);
  ASSERT_EQ(d->proposals.size(), 4u);  // the NaN rows are objects of no class
  for (const Detection& b : d->proposals) EXPECT_GE(b.score, 0.f);  // never NaN
  std::vector<Detection> all = d->objects;
  all.insert(all.end(), d->proposals.begin(), d->proposals.end());
  for (const Detection& b : all) {
    EXPECT_GE(b.x0, 0);
    EXPECT_GE(b.y0, 0);
    EXPECT_LE(b.x1, 60);
    EXPECT_LE(b.y1, 30);
    EXPECT_LT(b.x0, b.x1);
    EXPECT_LT(b.y0, b.y1);
  }
}

TEST(YoloxDecode, NmsIsClassWise) {
  auto box = [](float x0, float y0, float x1, float y1, int cls, float score) {
    Detection d;
    d.x0 = x0, d.y0 = y0, d.x1 = x1, d.y1 = y1, d.class_id = cls, d.score = score;
    return d;
  };
  std::vector<Detection> boxes = {
      box(0, 0, 10, 10, 0, 0.5f),   // IoU 0.91 with the next, same class: dropped
      box(0, 0, 10, 11, 0, 0.9f),   //
      box(0, 0, 10, 10, 1, 0.7f),   // same place, other class: kept
      box(5, 0, 15, 10, 0, 0.6f),   // IoU 1/3 with the best: kept
      box(50, 50, 60, 60, 0, 0.4f)  // elsewhere: kept
  };
  EXPECT_NEAR(BoxIoU(boxes[0], boxes[1]), 100.f / 110.f, 1e-6);
  EXPECT_NEAR(BoxIoU(boxes[1], boxes[3]), 50.f / 160.f, 1e-6);
  EXPECT_EQ(BoxIoU(boxes[0], boxes[4]), 0.f);
  std::vector<Detection> kept = ClassWiseNms(boxes, 0.45f, 100);
  ASSERT_EQ(kept.size(), 4u);
  EXPECT_FLOAT_EQ(kept[0].score, 0.9f);  // best first
  EXPECT_FLOAT_EQ(kept[1].score, 0.7f);
  EXPECT_FLOAT_EQ(kept[2].score, 0.6f);
  EXPECT_FLOAT_EQ(kept[3].score, 0.4f);
  EXPECT_EQ(ClassWiseNms(boxes, 0.45f, 2).size(), 2u);   // max_detections
  EXPECT_EQ(ClassWiseNms(boxes, 0.2f, 100).size(), 3u);  // a stricter IoU drops one more
  // Across classes (proposals), by objectness: the other class's box at the
  // same place goes too.
  for (Detection& b : boxes) b.objectness = 1 - b.score;
  kept = Nms(boxes, 0.45f, 100, /*within_class=*/false, &Detection::objectness);
  ASSERT_EQ(kept.size(), 3u);
  EXPECT_FLOAT_EQ(kept[0].objectness, 0.6f);  // box 4, elsewhere
  EXPECT_FLOAT_EQ(kept[1].objectness, 0.5f);  // box 0, over 1 and 2
  EXPECT_FLOAT_EQ(kept[2].objectness, 0.4f);  // box 3, IoU 1/3 with box 0
}

TEST(Letterbox, PlacesTheImageTopLeftOnAPaddedCanvas) {
  DetectorManifest m = Tiny();  // 64x32, BGR, scale 1, pad 114
  Image image;
  image.width = 32;
  image.height = 32;
  image.rgb.assign(32 * 32 * 3, 0);
  for (size_t i = 0; i < image.rgb.size(); i += 3) {
    image.rgb[i] = 10;  // R
    image.rgb[i + 1] = 20;
    image.rgb[i + 2] = 30;  // B
  }
  std::vector<float> input(DetectorInputSize(m));
  auto box = LetterboxImage(image, m, input.data());
  ASSERT_TRUE(box.ok()) << box.status();
  EXPECT_FLOAT_EQ(box->scale, 1.f);  // min(64/32, 32/32)
  EXPECT_FLOAT_EQ(box->offset_x, 0.f);
  const int plane = 64 * 32;
  EXPECT_FLOAT_EQ(input[0], 30.f);              // B plane first, pixel (0,0)
  EXPECT_FLOAT_EQ(input[plane + 31], 20.f);     // G, pixel (31,0)
  EXPECT_FLOAT_EQ(input[2 * plane + 40], 114);  // R, right of the image: padding
  EXPECT_FLOAT_EQ(input[2 * plane + 64 * 31 + 31], 10.f);
  m.letterbox_center = true;
  box = LetterboxImage(image, m, input.data());
  EXPECT_FLOAT_EQ(box->offset_x, 16.f);
  EXPECT_FLOAT_EQ(input[0], 114.f);
  EXPECT_FLOAT_EQ(input[16], 30.f);
  EXPECT_FALSE(LetterboxImage(Image{}, m, input.data()).ok());
}

// The bundled YOLOX-Nano, on both runtimes, on the four scene photos.
const char* kScenes[] = {"astronaut.jpg", "chelsea.jpg", "coffee.jpg", "rocket.jpg"};

class YoloxNanoTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    for (const char* runtime : {"torch", "opencv"}) {
      auto detector = Detector::Load(DetectorDir(), {runtime, 2});
      ASSERT_TRUE(detector.ok()) << detector.status();
      detectors_.push_back(std::move(*detector));
    }
    for (const char* scene : kScenes) {
      auto bytes = ReadFile(testing::AssetsDir() + "/photos/scenes/" + scene);
      ASSERT_TRUE(bytes.ok()) << bytes.status();
      auto image = DecodeImage(*bytes);
      ASSERT_TRUE(image.ok()) << image.status();
      images_.push_back(std::move(*image));
    }
    for (auto& detector : detectors_) {
      std::vector<std::vector<Detection>> per_scene;
      for (const Image& image : images_) {
        auto found = detector->Detect(image);
        ASSERT_TRUE(found.ok()) << found.status();
        per_scene.push_back(std::move(found->objects));
        if (detector == detectors_[0]) proposals_.push_back(std::move(found->proposals));
      }
      results_.push_back(std::move(per_scene));
    }
  }
  static void TearDownTestSuite() {
    detectors_.clear();
    images_.clear();
    results_.clear();
    proposals_.clear();
  }
  // results_[runtime][scene]: runtime 0 = torch, 1 = opencv.
  static std::vector<std::unique_ptr<Detector>> detectors_;
  static std::vector<Image> images_;
  static std::vector<std::vector<std::vector<Detection>>> results_;
  static std::vector<std::vector<Detection>> proposals_;  // [scene], torch
};
std::vector<std::unique_ptr<Detector>> YoloxNanoTest::detectors_;
std::vector<Image> YoloxNanoTest::images_;
std::vector<std::vector<std::vector<Detection>>> YoloxNanoTest::results_;
std::vector<std::vector<Detection>> YoloxNanoTest::proposals_;

bool HasClass(const std::vector<Detection>& boxes, const std::string& name, float min_score) {
  for (const Detection& d : boxes) {
    if (d.class_name == name && d.score >= min_score) return true;
  }
  return false;
}

TEST_F(YoloxNanoTest, FindsTheObjectsOfTheScenes) {
  ASSERT_EQ(results_.size(), 2u);
  EXPECT_EQ(detectors_[0]->runtime(), "torchscript");
  EXPECT_EQ(detectors_[1]->runtime(), "opencv-dnn");
  for (int r = 0; r < 2; ++r) {
    SCOPED_TRACE(detectors_[r]->runtime());
    const auto& res = results_[r];
    // SOURCES.md: person 0.93; cat 0.61; cup 0.89 (and a dining table); none.
    EXPECT_TRUE(HasClass(res[0], "person", 0.85f));
    EXPECT_TRUE(HasClass(res[1], "cat", 0.5f));
    EXPECT_TRUE(HasClass(res[2], "cup", 0.8f));
    EXPECT_TRUE(res[3].empty()) << res[3].size() << " boxes on rocket.jpg, first "
                                << (res[3].empty() ? "" : res[3][0].class_name);
    EXPECT_EQ(res[0][0].class_name, "person");  // best first
    // The astronaut's box, from SOURCES.md as x, y, width, height: [11,19,357,487].
    EXPECT_NEAR(res[0][0].x0, 11, 3);
    EXPECT_NEAR(res[0][0].y0, 19, 3);
    EXPECT_NEAR(res[0][0].width(), 357, 3);
    EXPECT_NEAR(res[0][0].height(), 487, 3);
  }
}

TEST_F(YoloxNanoTest, BoxesLieInsideTheImageAndNmsHolds) {
  for (int r = 0; r < 2; ++r) {
    for (size_t s = 0; s < images_.size(); ++s) {
      SCOPED_TRACE(kScenes[s]);
      const auto& boxes = results_[r][s];
      for (size_t i = 0; i < boxes.size(); ++i) {
        const Detection& d = boxes[i];
        EXPECT_GE(d.x0, 0);
        EXPECT_GE(d.y0, 0);
        EXPECT_LE(d.x1, images_[s].width);
        EXPECT_LE(d.y1, images_[s].height);
        EXPECT_LT(d.x0, d.x1);
        EXPECT_LT(d.y0, d.y1);
        EXPECT_GE(d.score, detectors_[r]->manifest().score_threshold);
        EXPECT_LE(d.score, 1.f);
        if (i > 0) {
          EXPECT_GE(boxes[i - 1].score, d.score);
        }
        for (size_t j = 0; j < i; ++j) {
          if (boxes[j].class_id == d.class_id) {
            EXPECT_LE(BoxIoU(boxes[j], d), detectors_[r]->manifest().iou_threshold);
          }
        }
      }
    }
  }
}

TEST_F(YoloxNanoTest, TorchAndOpenCvAgree) {
  for (size_t s = 0; s < images_.size(); ++s) {
    SCOPED_TRACE(kScenes[s]);
    const auto& t = results_[0][s];
    const auto& o = results_[1][s];
    ASSERT_EQ(t.size(), o.size());
    for (size_t i = 0; i < t.size(); ++i) {
      EXPECT_EQ(t[i].class_id, o[i].class_id);
      EXPECT_NEAR(t[i].score, o[i].score, 1e-3);
      EXPECT_NEAR(t[i].x0, o[i].x0, 2.0);
      EXPECT_NEAR(t[i].y0, o[i].y0, 2.0);
      EXPECT_NEAR(t[i].x1, o[i].x1, 2.0);
      EXPECT_NEAR(t[i].y1, o[i].y1, 2.0);
    }
  }
}

TEST_F(YoloxNanoTest, ProposalsAreClassAgnostic) {
  const DetectorManifest& m = detectors_[0]->manifest();
  for (size_t s = 0; s < images_.size(); ++s) {
    SCOPED_TRACE(kScenes[s]);
    const auto& boxes = proposals_[s];
    for (size_t i = 0; i < boxes.size(); ++i) {
      EXPECT_GE(boxes[i].objectness, m.objectness_threshold);
      EXPECT_LE(boxes[i].score, boxes[i].objectness);
      EXPECT_LT(boxes[i].x0, boxes[i].x1);
      EXPECT_LE(boxes[i].x1, images_[s].width);
      if (i > 0) {
        EXPECT_GE(boxes[i - 1].objectness, boxes[i].objectness);
      }
      for (size_t j = 0; j < i; ++j) EXPECT_LE(BoxIoU(boxes[j], boxes[i]), m.iou_threshold);
    }
  }
  // Every labelled object is also "an object" (score <= objectness).
  for (const Detection& d : results_[0][0]) EXPECT_GE(d.objectness, d.score);
}

TEST_F(YoloxNanoTest, PrimaryCropOfTheAstronautIsThePerson) {
  auto primary_of = [&](size_t scene) {
    Detections found{results_[0][scene], proposals_[scene]};
    std::vector<CropRect> crops =
        CropRegions(DetectPolicy::kPrimary, found, images_[scene].width, images_[scene].height,
                    CropOptionsFor(detectors_[0]->manifest()));
    EXPECT_EQ(crops.size(), 1u);
    if (crops[0].detection < 0) return std::string("(whole)");
    const Detection& d = found.objects[PrimaryAmongObjects(&found, crops[0].detection)];
    return d.labelled ? d.class_name : "(unlabelled)";
  };
  // The astronaut is all there is to see (person is a context class, weighted
  // down, yet wins).
  EXPECT_EQ(primary_of(0), "person");
  // The cup, not the dining table under it (a box over the whole photo).
  EXPECT_EQ(primary_of(2), "cup");
  const Image& astronaut = images_[0];
  std::vector<CropRect> crops =
      CropRegions(DetectPolicy::kPrimary, Detections{results_[0][0], proposals_[0]},
                  astronaut.width, astronaut.height);
  ASSERT_GE(crops[0].detection, 0);
  Image crop = CropImage(astronaut, crops[0]);
  EXPECT_EQ(crop.width, crops[0].width);
  EXPECT_EQ(crop.rgb.size(), static_cast<size_t>(crop.width) * crop.height * 3);
  // The cat's box covers the photo (the scene, max_area_fraction); nothing on
  // the rocket: both the whole image.
  EXPECT_EQ(primary_of(1), "(whole)");
  EXPECT_EQ(primary_of(3), "(whole)");
}

TEST_F(YoloxNanoTest, ErrorsAreStatuses) {
  auto none = detectors_[0]->Detect(Image{});
  EXPECT_EQ(none.status().code(), absl::StatusCode::kInvalidArgument);
  auto bad_runtime = Detector::Load(DetectorDir(), {"tflite", 2});
  EXPECT_THAT(std::string(bad_runtime.status().message()), HasSubstr("unknown runtime 'tflite'"));
  // A manifest whose grid does not match the network is refused at load.
  testing::ScratchDir dir;
  auto text = ReadFile(DetectorDir() + "/model.json");
  ASSERT_TRUE(text.ok());
  json j = json::parse(*text);
  j["files"] = {{"opencv-dnn", DetectorDir() + "/yolox_nano.onnx"}};
  j["runtime"] = "opencv-dnn";
  j["output"]["strides"] = {8, 16};
  j["classes"] = DetectorDir() + "/coco_classes.txt";
  ASSERT_TRUE(WriteFileAtomic(dir / "model.json", j.dump()).ok());
  auto mismatched = Detector::Load(dir.path(), {"", 2});
  ASSERT_FALSE(mismatched.ok());
  EXPECT_THAT(std::string(mismatched.status().message()),
              HasSubstr("outputs [3549,85] but its manifest implies [3380,85]"));
  // A model file that is not a model.
  ASSERT_TRUE(WriteFileAtomic(dir / "junk.onnx", "not a model").ok());
  j["files"] = {{"opencv-dnn", "junk.onnx"}};
  j["output"]["strides"] = {8, 16, 32};
  ASSERT_TRUE(WriteFileAtomic(dir / "model.json", j.dump()).ok());
  auto junk = Detector::Load(dir.path(), {"", 2});
  ASSERT_FALSE(junk.ok());
  EXPECT_THAT(std::string(junk.status().message()), HasSubstr("junk.onnx"));
}

}  // namespace
}  // namespace photosearch
