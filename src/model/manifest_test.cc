#include "model/manifest.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "support/test_env.h"

namespace photosearch {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;

json Valid() {
  return json::parse(R"({
    "schema_version": 1, "id": "m@1", "runtime": "torchscript", "file": "w.pt",
    "input": {"width": 224, "height": 224, "mean": [0.5, 0.5, 0.5], "std": [0.2, 0.2, 0.2]},
    "resize": {"shorter_side": 256, "crop": "center"},
    "output": {"dimension": 128}
  })");
}

TEST(ModelManifest, ParsesAndResolvesTheFile) {
  auto m = ParseModelManifest(Valid().dump(), "/models/x");
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(m->id, "m@1");
  EXPECT_EQ(m->file, "/models/x/w.pt");
  EXPECT_EQ(m->output_name, "forward");  // the TorchScript default
  EXPECT_EQ(m->dimension, 128);
  EXPECT_TRUE(m->rgb);
  EXPECT_TRUE(m->center_crop);
  EXPECT_EQ(m->precision, "fp32");
}

TEST(ModelManifest, BundledManifestsLoad) {
  for (const char* name : {"model.json", "model-onnx.json", "model-bf16.json"}) {
    SCOPED_TRACE(name);
    auto m = LoadModelManifest(testing::SourceDir() + "/models/mobilenetv2/" + name);
    ASSERT_TRUE(m.ok()) << m.status();
    EXPECT_EQ(m->dimension, 1280);
    EXPECT_THAT(m->id, HasSubstr(m->precision));  // the precision is part of the id
  }
  // A folder means its model.json.
  EXPECT_TRUE(LoadModelManifest(testing::SourceDir() + "/models/mobilenetv2").ok());
  EXPECT_EQ(LoadModelManifest("/nonexistent/model.json").status().code(),
            absl::StatusCode::kNotFound);
}

TEST(ModelManifest, RefusesBadFields) {
  struct Case {
    const char* pointer;
    json value;
    const char* message;
  };
  std::vector<Case> cases = {
      {"/id", "no-version", "name@version"},
      {"/id", "bad id@1", "letters, digits"},
      {"/runtime", "tensorflow", "runtime"},
      {"/precision", "int4", "precision"},
      {"/input/width", 4, "8..4096"},
      {"/input/std", json::array({1, 0, 1}), "std"},
      {"/input/mean", json::array({1, 2}), "3 numbers"},
      {"/input/color_order", "RGBA", "color_order"},
      {"/resize/crop", "random", "crop"},
      {"/resize/shorter_side", 100, "shorter_side"},
      {"/output/dimension", 0, "dimension"},
      {"/output/pooling", "sum", "pooling"},
      {"/output/normalize", "none", "normalize l2"},
      {"/metric", "l2", "inner_product"},
      {"/schema_version", 2, "schema_version"},
      {"/input/width", "wide", "must be integers in 8..4096"},
      // Found by fuzzing: numbers that do not fit were cast (undefined
      // behaviour for 1e30 and 1e39) or wrapped (4294967297 -> 1).
      {"/input/width", 1e30, "must be integers in 8..4096"},
      {"/input/height", 224.5, "must be integers in 8..4096"},
      {"/output/dimension", 4294967297.0, "output.dimension must be in 1..65536"},
      {"/output/dimension", int64_t{4294967297}, "output.dimension must be in 1..65536"},
      {"/resize/shorter_side", -1e300, "resize.shorter_side must be an integer in 0..8192"},
      {"/input/mean", json::array({0.5, 1e39, 0.5}), "input.mean[1] must be a number"},
      {"/input/scale", 1e39, "input.scale must be in (0, 1e6]"},
      {"/schema_version", 1e30, "schema_version"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.pointer);
    json j = Valid();
    j[json::json_pointer(c.pointer)] = c.value;
    auto m = ParseModelManifest(j.dump(), "/m");
    ASSERT_FALSE(m.ok());
    EXPECT_EQ(m.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(m.status().message()), HasSubstr(c.message));
  }
  EXPECT_FALSE(ParseModelManifest("not json", "/m").ok());
  json no_file = Valid();
  no_file.erase("file");
  EXPECT_FALSE(ParseModelManifest(no_file.dump(), "/m").ok());
}

}  // namespace
}  // namespace photosearch
