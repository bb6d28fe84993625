#include "model/detector_manifest.h"

#include <algorithm>
#include <cctype>

#include "absl/strings/str_cat.h"
#include "base/files.h"
#include "base/json_fields.h"
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
  absl::StatusOr<json> parsed = manifest_json::ParseObject("detector", json_text);
  if (!parsed.ok()) return parsed.status();
  json j = std::move(*parsed);
  DetectorManifest m;
  try {
    auto schema = json_fields::Int(j, "schema_version", 1, 1, 1);
    if (!schema.ok()) return Invalid(absl::StrCat("unsupported ", schema.status().message()));
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
    auto pad_value = json_fields::Number(letterbox, "pad_value", 114, 0, 255, "letterbox.");
    if (!pad_value.ok()) return Invalid(std::string(pad_value.status().message()));
    m.pad_value = static_cast<float>(*pad_value);
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
      auto value = json_fields::IntValue(s, 1, 1024, "output.strides[]");
      if (!value.ok() || !s.is_number_integer()) {
        return Invalid("output.strides must be integers in 1..1024");
      }
      const int stride = static_cast<int>(*value);
      if (m.input_width % stride != 0 || m.input_height % stride != 0) {
        return Invalid(absl::StrCat("input size ", m.input_width, "x", m.input_height,
                                    " is not a multiple of output stride ", stride));
      }
      m.strides.push_back(stride);
    }

    const json thresholds = j.value("thresholds", json::object());
    // A threshold in (0, 1]; `fallback` when absent.
    auto threshold = [&](const char* key, double fallback) -> absl::StatusOr<float> {
      auto value = json_fields::Number(thresholds, key, fallback, 0, 1, "thresholds.");
      if (!value.ok() || !(*value > 0)) {
        return Invalid(absl::StrCat("thresholds.", key, " must be in (0, 1]"));
      }
      return static_cast<float>(*value);
    };
    auto score = threshold("score", 0.3);
    if (!score.ok()) return score.status();
    m.score_threshold = *score;
    auto objectness = threshold("objectness", m.score_threshold);
    if (!objectness.ok()) return objectness.status();
    m.objectness_threshold = *objectness;
    auto iou = threshold("iou", 0.45);
    if (!iou.ok()) return iou.status();
    m.iou_threshold = *iou;
    auto max_detections =
        json_fields::Int(thresholds, "max_detections", 100, 1, 10000, "thresholds.");
    if (!max_detections.ok()) return Invalid(std::string(max_detections.status().message()));
    m.max_detections = static_cast<int>(*max_detections);

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
