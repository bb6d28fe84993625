#include "model/manifest.h"

#include "absl/strings/str_cat.h"
#include "base/files.h"
#include "base/json_fields.h"
#include "model/manifest_json.h"
#include "nlohmann/json.hpp"

namespace photosearch {
namespace {

using nlohmann::json;

absl::Status Invalid(const std::string& what) { return manifest_json::Invalid("model", what); }

}  // namespace

absl::StatusOr<ModelManifest> ParseModelManifest(const std::string& json_text,
                                                 const std::string& base_dir) {
  absl::StatusOr<json> parsed = manifest_json::ParseObject("model", json_text);
  if (!parsed.ok()) return parsed.status();
  json j = std::move(*parsed);
  ModelManifest m;
  try {
    auto schema = json_fields::Int(j, "schema_version", 1, 1, 1);
    if (!schema.ok()) return Invalid(absl::StrCat("unsupported ", schema.status().message()));
    if (std::string kind = j.value("kind", "embedder"); kind != "embedder") {
      return Invalid(absl::StrCat("\"kind\" is \"", kind, "\": not an embedding model"));
    }
    m.id = j.value("id", "");
    if (m.id.empty() || m.id.find('@') == std::string::npos) {
      return Invalid("\"id\" must be name@version, e.g. mobilenetv2-gap1280-fp32@1");
    }
    for (char c : m.id) {
      if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.' ||
            c == '@')) {
        return Invalid("\"id\" may hold only letters, digits, '-', '_', '.' and '@'");
      }
    }
    m.runtime = j.value("runtime", "");
    if (m.runtime != "torchscript" && m.runtime != "opencv-dnn") {
      return Invalid("\"runtime\" must be \"torchscript\" or \"opencv-dnn\"");
    }
    m.file = j.value("file", "");
    if (m.file.empty()) return Invalid("\"file\" is missing");
    m.file = manifest_json::Resolve(m.file, base_dir);
    m.precision = j.value("precision", "fp32");
    if (m.precision != "fp32" && m.precision != "bf16") {
      return Invalid("\"precision\" must be \"fp32\" or \"bf16\"");
    }

    const json input = j.value("input", json::object());
    if (absl::Status s = manifest_json::ParseInput("model", input, "RGB", 255.f, &m); !s.ok())
      return s;

    const json resize = j.value("resize", json::object());
    auto shorter_side = json_fields::Int(resize, "shorter_side", 0, 0, 8192, "resize.");
    if (!shorter_side.ok()) return Invalid(std::string(shorter_side.status().message()));
    m.resize_shorter_side = static_cast<int>(*shorter_side);
    std::string crop = resize.value("crop", "center");
    if (crop != "center" && crop != "none") return Invalid("resize.crop must be center or none");
    m.center_crop = crop == "center";
    if (m.center_crop && m.resize_shorter_side != 0 &&
        (m.resize_shorter_side < m.input_width || m.resize_shorter_side < m.input_height)) {
      return Invalid("resize.shorter_side must be >= the input size for a center crop");
    }
    m.interpolation = resize.value("interpolation", "bilinear");
    if (m.interpolation != "bilinear" && m.interpolation != "area") {
      return Invalid("resize.interpolation must be bilinear or area");
    }

    const json output = j.value("output", json::object());
    m.output_name = output.value("name", m.runtime == "torchscript" ? "forward" : "");
    if (m.output_name.empty()) return Invalid("output.name is missing");
    m.pooling = output.value("pooling", "none");
    if (m.pooling != "none" && m.pooling != "mean" && m.pooling != "max") {
      return Invalid("output.pooling must be none, mean or max");
    }
    auto dimension = json_fields::Int(output, "dimension", 0, 1, 65536, "output.");
    if (!dimension.ok() || *dimension == 0) return Invalid("output.dimension must be in 1..65536");
    m.dimension = static_cast<int>(*dimension);
    std::string normalize = output.value("normalize", "l2");
    if (normalize != "l2" && normalize != "none")
      return Invalid("output.normalize must be l2 or none");
    m.l2_normalize = normalize == "l2";
    m.metric = j.value("metric", "inner_product");
    if (m.metric != "inner_product") {
      return Invalid("metric must be inner_product (on L2-normalised vectors)");
    }
    if (!m.l2_normalize) return Invalid("inner_product search needs output.normalize l2");
  } catch (const json::exception& e) {
    return Invalid(absl::StrCat("wrong type of a field: ", e.what()));
  }
  return m;
}

absl::StatusOr<ModelManifest> LoadModelManifest(const std::string& path) {
  return manifest_json::LoadManifest("model", path, &ParseModelManifest);
}

}  // namespace photosearch
