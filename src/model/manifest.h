// The model manifest (`model.json`): everything needed to turn a decoded image
// into the model's vector, so that another model works by writing only a new
// manifest. Immutable value type.
//
// {
//   "schema_version": 1,
//   "id": "mobilenetv2-gap1280-fp32@1",      // name@version; the precision is part of it
//   "runtime": "torchscript",                 // or "opencv-dnn" (ONNX)
//   "file": "mobilenetv2_embed.torchscript.pt",  // relative to the manifest
//   "precision": "fp32",                      // or "bf16" (needs AVX512-BF16 or AMX)
//   "input": {"width": 224, "height": 224, "color_order": "RGB", "scale": 255,
//             "mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225]},
//   "resize": {"shorter_side": 256, "crop": "center", "interpolation": "bilinear"},
//   "output": {"name": "forward", "pooling": "none", "dimension": 1280, "normalize": "l2"},
//   "metric": "inner_product"
// }
//
// output.name is the TorchScript method to call, or the ONNX output/layer name.
// output.pooling "mean" or "max" reduces an [N,C,H,W] output over H and W.
// resize.crop "center" crops input.width x input.height after the resize;
// "none" resizes straight to the input size (aspect ratio not kept).
#pragma once

#include <array>
#include <string>

#include "absl/status/statusor.h"

namespace photosearch {

struct ModelManifest {
  std::string id;
  std::string runtime;    // "torchscript" | "opencv-dnn"
  std::string file;       // absolute path after loading
  std::string precision;  // "fp32" | "bf16"
  int input_width = 0;
  int input_height = 0;
  bool rgb = true;      // colour order of the input tensor
  float scale = 255.f;  // pixel / scale, then (x - mean) / std
  std::array<float, 3> mean{0.f, 0.f, 0.f};
  std::array<float, 3> std{1.f, 1.f, 1.f};
  int resize_shorter_side = 0;  // 0: resize straight to the input size
  bool center_crop = true;
  std::string interpolation = "bilinear";  // "bilinear" | "area"
  std::string output_name;
  std::string pooling = "none";  // "none" | "mean" | "max"
  int dimension = 0;
  bool l2_normalize = true;
  std::string metric = "inner_product";
  std::string manifest_path;  // where it was read from
};

// Parses a manifest; relative `file` is resolved against `base_dir`.
absl::StatusOr<ModelManifest> ParseModelManifest(const std::string& json_text,
                                                 const std::string& base_dir);
// Reads and parses `path` (a model.json, or a directory holding one).
absl::StatusOr<ModelManifest> LoadModelManifest(const std::string& path);

}  // namespace photosearch
