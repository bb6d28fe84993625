#include "model/detector_manifest.h"

#include <algorithm>
#include <cctype>

#include "absl/strings/str_cat.h"
#include "base/files.h"
#include "model/manifest_json.h"
#include "nlohmann/json.hpp"

namespace photosearch {
namespace {

using nlohmann::json;

absl::Status Invalid(const std::string& what) { return manifest_json::Invalid("detector", what); }

using manifest_json::Resolve;

// One name per line; trailing whitespace and a final empty line are ignored.
absl::StatusOr<std::vector<std::string>> ReadClassNames(const std::string& path) {
  auto text = ReadFile(path, 1 << 20);
  if (!text.ok()) {
    return Invalid(absl::StrCat("classes file ", path, ": ", text.status().message()));
  }
  std::vector<std::string> names;
  size_t start = 0;
  while (start < text->size()) {
    size_t end = text->find('\n', start);
    if (end == std::string::npos) end = text->size();
    std::string line = text->substr(start, end - start);
    while (!line.empty() && std::isspace(static_cast<unsigned char>(line.back()))) line.pop_back();
    names.push_back(line);
    start = end + 1;
  }
  while (!names.empty() && names.back().empty()) names.pop_back();
  for (size_t i = 0; i < names.size(); ++i) {
    if (names[i].empty()) {
      return Invalid(absl::StrCat("classes file ", path, ": line ", i + 1, " is empty"));
    }
  }
  return names;
}

}  // namespace

int DetectorManifest::ExpectedRows() const {
  int rows = 0;
  for (int s : strides) rows += (input_width / s) * (input_height / s);
  return rows;
}

absl::StatusOr<std::string> CanonicalRuntime(std::string_view name) {
  if (name == "torch" || name == "torchscript") return std::string("torchscript");
  if (name == "opencv" || name == "opencv-dnn" || name == "onnx") return std::string("opencv-dnn");
  return absl::InvalidArgumentError(absl::StrCat("unknown runtime '", std::string(name),
                                                 "' (torch|torchscript or opencv|opencv-dnn)"));
}

absl::StatusOr<DetectorManifest> ParseDetectorManifest(const std::string& json_text,
                                                       const std::string& base_dir) {
  json j = json::parse(json_text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return Invalid("not a JSON object");
  DetectorManifest m;
  try {
    int schema = j.value("schema_version", 1);
    if (schema != 1) return Invalid(absl::StrCat("unsupported schema_version ", schema));
    std::string kind = j.value("kind", "");
    if (kind != "detector") {
      return Invalid(absl::StrCat("\"kind\" must be \"detector\" (is \"", kind, "\")"));
    }
    m.id = j.value("id", "");
    if (m.id.empty() || m.id.find('@') == std::string::npos) {
      return Invalid("\"id\" must be name@version, e.g. yolox-nano-coco80@1");
    }
    for (char c : m.id) {
      if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.' ||
            c == '@')) {
        return Invalid("\"id\" may hold only letters, digits, '-', '_', '.' and '@'");
      }
    }

    const json files = j.value("files", json::object());
    if (!files.is_object() || files.empty()) {
      return Invalid(
          "\"files\" must map runtimes to model files, e.g. {\"torchscript\": \"m.pt\"}");
    }
    for (const auto& [runtime, file] : files.items()) {
      auto canonical = CanonicalRuntime(runtime);
      if (!canonical.ok()) return Invalid(absl::StrCat("files: ", canonical.status().message()));
      if (!file.is_string() || file.get<std::string>().empty()) {
        return Invalid(absl::StrCat("files.", runtime, " must be a file name"));
      }
      m.files[*canonical] = Resolve(file.get<std::string>(), base_dir);
    }
    auto runtime = CanonicalRuntime(j.value("runtime", ""));
    if (!runtime.ok()) return Invalid(absl::StrCat("\"runtime\": ", runtime.status().message()));
    m.runtime = *runtime;
    if (!m.files.count(m.runtime)) {
      return Invalid(
          absl::StrCat("\"runtime\" is ", m.runtime, " but \"files\" has no file for it"));
    }

    const json input = j.value("input", json::object());
    if (absl::Status s = manifest_json::ParseInput("detector", input, "BGR", 1.f, &m); !s.ok())
      return s;
    if (input.value("layout", "NCHW") != "NCHW") return Invalid("input.layout must be NCHW");

    const json letterbox = j.value("letterbox", json::object());
    std::string align = letterbox.value("align", "top-left");
    if (align != "top-left" && align != "center") {
      return Invalid("letterbox.align must be top-left or center");
    }
    m.letterbox_center = align == "center";
    m.pad_value = letterbox.value("pad_value", 114.f);
    if (!(m.pad_value >= 0 && m.pad_value <= 255))
      return Invalid("letterbox.pad_value must be in 0..255");
    std::string interpolation = letterbox.value("interpolation", "bilinear");
    if (interpolation != "bilinear" && interpolation != "area") {
      return Invalid("letterbox.interpolation must be bilinear or area");
    }
    m.area_interpolation = interpolation == "area";

    const json output = j.value("output", json::object());
    m.family = output.value("family", "");
    if (m.family != "yolox")
      return Invalid("output.family must be \"yolox\" (the only one supported)");
    if (!output.value("sigmoid_applied", true)) {
      return Invalid("output.sigmoid_applied must be true for the yolox family");
    }
    m.output_name = output.value("name", "");
    const json strides = output.value("strides", json::array());
    if (!strides.is_array() || strides.empty()) {
      return Invalid("output.strides must be a non-empty array, e.g. [8, 16, 32]");
    }
    for (const json& s : strides) {
      if (!s.is_number_integer() || s.get<int>() < 1 || s.get<int>() > 1024) {
        return Invalid("output.strides must be integers in 1..1024");
      }
      int stride = s.get<int>();
      if (m.input_width % stride != 0 || m.input_height % stride != 0) {
        return Invalid(absl::StrCat("input size ", m.input_width, "x", m.input_height,
                                    " is not a multiple of output stride ", stride));
      }
      m.strides.push_back(stride);
    }

    const json thresholds = j.value("thresholds", json::object());
    m.score_threshold = thresholds.value("score", 0.3f);
    if (!(m.score_threshold > 0 && m.score_threshold <= 1)) {
      return Invalid("thresholds.score must be in (0, 1]");
    }
    m.objectness_threshold = thresholds.value("objectness", m.score_threshold);
    if (!(m.objectness_threshold > 0 && m.objectness_threshold <= 1)) {
      return Invalid("thresholds.objectness must be in (0, 1]");
    }
    m.iou_threshold = thresholds.value("iou", 0.45f);
    if (!(m.iou_threshold > 0 && m.iou_threshold <= 1)) {
      return Invalid("thresholds.iou must be in (0, 1]");
    }
    m.max_detections = thresholds.value("max_detections", 100);
    if (m.max_detections < 1 || m.max_detections > 10000) {
      return Invalid("thresholds.max_detections must be in 1..10000");
    }

    if (!j.contains("classes")) return Invalid("\"classes\" is missing (a file name or an array)");
    const json& classes = j.at("classes");
    if (classes.is_string()) {
      auto names = ReadClassNames(Resolve(classes.get<std::string>(), base_dir));
      if (!names.ok()) return names.status();
      m.class_names = std::move(*names);
    } else if (classes.is_array()) {
      for (const json& name : classes) {
        if (!name.is_string() || name.get<std::string>().empty()) {
          return Invalid("\"classes\" must hold non-empty strings");
        }
        m.class_names.push_back(name.get<std::string>());
      }
    } else {
      return Invalid("\"classes\" must be a file name or an array of names");
    }
    if (m.class_names.empty()) return Invalid("\"classes\" names no class");
    if (j.contains("context_classes")) {
      for (const json& name : j.at("context_classes")) {
        const std::string n = name.get<std::string>();
        if (std::find(m.class_names.begin(), m.class_names.end(), n) == m.class_names.end()) {
          return Invalid(absl::StrCat("context_classes: '", n, "' is not one of the classes"));
        }
        m.context_classes.push_back(n);
      }
    }
  } catch (const json::exception& e) {
    return Invalid(absl::StrCat("wrong type of a field: ", e.what()));
  }
  return m;
}

absl::StatusOr<DetectorManifest> LoadDetectorManifest(const std::string& path) {
  return manifest_json::LoadManifest("detector", path, &ParseDetectorManifest);
}

}  // namespace photosearch
