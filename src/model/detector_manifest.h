// The detector manifest (`model.json` with "kind": "detector"): everything needed
// to turn a decoded image into boxes, so that another detector of a supported
// output family works by writing only a new manifest. Immutable value type.
//
// {
//   "schema_version": 1,
//   "kind": "detector",
//   "id": "yolox-nano-coco80@1",                 // name@version
//   "runtime": "torchscript",                     // the default; or "opencv-dnn"
//   "files": {"torchscript": "yolox_nano.torchscript.pt",   // relative to the manifest
//             "opencv-dnn": "yolox_nano.onnx"},
//   "input": {"width": 416, "height": 416, "layout": "NCHW", "color_order": "BGR",
//             "scale": 1, "mean": [0, 0, 0], "std": [1, 1, 1]},
//   "letterbox": {"align": "top-left", "pad_value": 114, "interpolation": "bilinear"},
//   "output": {"family": "yolox", "name": "output", "strides": [8, 16, 32],
//              "sigmoid_applied": true},
//   "thresholds": {"score": 0.3, "objectness": 0.1, "iou": 0.45, "max_detections": 100},
//   "classes": "coco_classes.txt"   // one class name per line, in output order,
// }                                   // or an inline JSON array of names
//
// Input values are (pixel / scale - mean) / std per channel. The letterbox
// scales the image by r = min(width / w, height / h), keeping its aspect ratio,
// and pastes it at the top-left (or centre) of a canvas filled with pad_value.
// Output family "yolox": [1, N, 5 + C] rows (tx, ty, tw, th, obj, cls_0..cls_C-1),
// one per grid cell, strides in the listed order, row-major, x fastest; the
// grid of stride s is (width / s) x (height / s). output.name is the ONNX output
// (TorchScript models return their only output from forward()).
#pragma once

#include <array>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace photosearch {

struct DetectorManifest {
  std::string id;
  std::string runtime;                       // the default: "torchscript" | "opencv-dnn"
  std::map<std::string, std::string> files;  // runtime -> absolute path after loading
  int input_width = 0;
  int input_height = 0;
  bool rgb = false;  // colour order of the input tensor
  float scale = 1.f;
  std::array<float, 3> mean{0.f, 0.f, 0.f};
  std::array<float, 3> std{1.f, 1.f, 1.f};
  bool letterbox_center = false;  // false: top-left
  float pad_value = 114.f;        // in pixel units (0..255), before scale/mean/std
  bool area_interpolation = false;
  std::string family;       // "yolox"
  std::string output_name;  // ONNX output; "" = the network's last output
  std::vector<int> strides;
  float score_threshold = 0.3f;  // on obj * cls: Detections::objects
  // On obj alone: Detections::proposals. Absent from the manifest: the score
  // threshold.
  float objectness_threshold = 0.3f;
  float iou_threshold = 0.45f;  // NMS
  int max_detections = 100;
  std::vector<std::string> class_names;  // index = class id
  // Classes that are usually the scene around a listed thing rather than the
  // thing (the hand and person holding it, the table under it): the primary
  // object is chosen among the others when there are any.
  std::vector<std::string> context_classes;
  std::string manifest_path;  // where it was read from

  // Grid cells (output rows) the network must produce: sum over strides.
  int ExpectedRows() const;
};

// "torch" | "torchscript" -> "torchscript"; "opencv" | "opencv-dnn" | "onnx" ->
// "opencv-dnn"; anything else is kInvalidArgument.
absl::StatusOr<std::string> CanonicalRuntime(std::string_view name);

// Parses a manifest; relative file names are resolved against `base_dir`, and
// a "classes" file is read from there. Errors are kInvalidArgument and name
// the field ("detector manifest: thresholds.iou must be in (0, 1]").
absl::StatusOr<DetectorManifest> ParseDetectorManifest(const std::string& json_text,
                                                       const std::string& base_dir);
// Reads and parses `path` (a model.json, or a directory holding one) and the
// class names file it names.
absl::StatusOr<DetectorManifest> LoadDetectorManifest(const std::string& path);

}  // namespace photosearch
