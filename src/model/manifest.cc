#include "model/manifest.h"

#include <filesystem>

#include "absl/strings/str_cat.h"
#include "base/files.h"
#include "nlohmann/json.hpp"

namespace photosearch {
namespace {

using nlohmann::json;

absl::Status Invalid(const std::string& what) {
  return absl::InvalidArgumentError(absl::StrCat("model manifest: ", what));
}

absl::StatusOr<std::array<float, 3>> ReadTriple(const json& j, const char* key,
                                                std::array<float, 3> fallback) {
  if (!j.contains(key)) return fallback;
  const json& v = j.at(key);
  if (!v.is_array() || v.size() != 3)
    return Invalid(absl::StrCat("input.", key, " must be 3 numbers"));
  std::array<float, 3> out{};
  for (int i = 0; i < 3; ++i) {
    if (!v[i].is_number()) return Invalid(absl::StrCat("input.", key, " must be 3 numbers"));
    out[i] = v[i].get<float>();
  }
  return out;
}

}  // namespace

absl::StatusOr<ModelManifest> ParseModelManifest(const std::string& json_text,
                                                 const std::string& base_dir) {
  json j = json::parse(json_text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return Invalid("not a JSON object");
  ModelManifest m;
  try {
    int schema = j.value("schema_version", 1);
    if (schema != 1) return Invalid(absl::StrCat("unsupported schema_version ", schema));
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
    std::filesystem::path file(m.file);
    if (file.is_relative()) m.file = (std::filesystem::path(base_dir) / file).string();
    m.precision = j.value("precision", "fp32");
    if (m.precision != "fp32" && m.precision != "bf16") {
      return Invalid("\"precision\" must be \"fp32\" or \"bf16\"");
    }

    const json input = j.value("input", json::object());
    m.input_width = input.value("width", 0);
    m.input_height = input.value("height", 0);
    if (m.input_width < 8 || m.input_height < 8 || m.input_width > 4096 || m.input_height > 4096) {
      return Invalid("input.width and input.height must be in 8..4096");
    }
    std::string order = input.value("color_order", "RGB");
    if (order != "RGB" && order != "BGR") return Invalid("input.color_order must be RGB or BGR");
    m.rgb = order == "RGB";
    m.scale = input.value("scale", 255.f);
    if (!(m.scale > 0)) return Invalid("input.scale must be > 0");
    auto mean = ReadTriple(input, "mean", {0.f, 0.f, 0.f});
    if (!mean.ok()) return mean.status();
    m.mean = *mean;
    auto stdev = ReadTriple(input, "std", {1.f, 1.f, 1.f});
    if (!stdev.ok()) return stdev.status();
    m.std = *stdev;
    for (float s : m.std) {
      if (!(s > 0)) return Invalid("input.std values must be > 0");
    }

    const json resize = j.value("resize", json::object());
    m.resize_shorter_side = resize.value("shorter_side", 0);
    if (m.resize_shorter_side < 0 || m.resize_shorter_side > 8192) {
      return Invalid("resize.shorter_side must be in 0..8192");
    }
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
    m.dimension = output.value("dimension", 0);
    if (m.dimension < 1 || m.dimension > 65536)
      return Invalid("output.dimension must be in 1..65536");
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
  std::filesystem::path p(path);
  std::error_code ec;
  if (std::filesystem::is_directory(p, ec)) p /= "model.json";
  auto text = ReadFile(p.string(), 1 << 20);
  if (!text.ok())
    return absl::Status(text.status().code(),
                        absl::StrCat("model manifest: ", text.status().message()));
  auto manifest = ParseModelManifest(*text, p.parent_path().string());
  if (!manifest.ok()) {
    return absl::Status(manifest.status().code(),
                        absl::StrCat(p.string(), ": ", manifest.status().message()));
  }
  manifest->manifest_path = p.string();
  return manifest;
}

}  // namespace photosearch
