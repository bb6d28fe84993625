// Parsing shared by the embedding-model and detector manifests (model.json):
// reading the file, 3-number fields, and the "input" tensor section. Internal
// to src/model.
//
// Thread-safety: pure functions.
#pragma once

#include <array>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "base/json_fields.h"
#include "nlohmann/json.hpp"

namespace photosearch::manifest_json {

// kInvalidArgument "<kind> manifest: <what>".
absl::Status Invalid(const char* kind, const std::string& what);

// The manifest's text as a JSON object (json_fields::Parse: depth-limited).
absl::StatusOr<nlohmann::json> ParseObject(const char* kind, const std::string& text);

// j[key] as 3 numbers ("input.<key> must be 3 numbers"), `fallback` if absent.
absl::StatusOr<std::array<float, 3>> ReadTriple(const char* kind, const nlohmann::json& j,
                                                const char* key, std::array<float, 3> fallback);

// The text of the manifest at `path` (a model.json, or a directory holding
// one); *resolved is the file's path.
absl::StatusOr<std::string> ReadManifestFile(const char* kind, const std::string& path,
                                             std::string* resolved);

// The directory holding `file` (relative file names in a manifest resolve there).
std::string DirectoryOf(const std::string& file);

// `file` as named in a manifest: relative names are taken from `base_dir`.
std::string Resolve(const std::string& file, const std::string& base_dir);

// Reads the manifest at `path` (as ReadManifestFile) and parses it with
// `parse(text, DirectoryOf(file))`; parse errors are prefixed with the file's
// path, and Manifest::manifest_path is set to it.
template <typename Manifest>
absl::StatusOr<Manifest> LoadManifest(const char* kind, const std::string& path,
                                      absl::StatusOr<Manifest> (*parse)(const std::string& text,
                                                                        const std::string& base)) {
  std::string file;
  absl::StatusOr<std::string> text = ReadManifestFile(kind, path, &file);
  if (!text.ok()) return text.status();
  absl::StatusOr<Manifest> manifest = parse(*text, DirectoryOf(file));
  if (!manifest.ok()) {
    return absl::Status(manifest.status().code(),
                        absl::StrCat(file, ": ", manifest.status().message()));
  }
  manifest->manifest_path = file;
  return manifest;
}

// Fills m.input_width/height, rgb, scale, mean and std from the "input" object.
template <typename Manifest>
absl::Status ParseInput(const char* kind, const nlohmann::json& input, const char* default_order,
                        float default_scale, Manifest* m) {
  auto width = json_fields::Int(input, "width", 0, 8, 4096, "input.");
  auto height = json_fields::Int(input, "height", 0, 8, 4096, "input.");
  if (!width.ok() || !height.ok() || *width == 0 || *height == 0) {
    return Invalid(kind, "input.width and input.height must be integers in 8..4096");
  }
  m->input_width = static_cast<int>(*width);
  m->input_height = static_cast<int>(*height);
  std::string order = input.value("color_order", default_order);
  if (order != "RGB" && order != "BGR") {
    return Invalid(kind, "input.color_order must be RGB or BGR");
  }
  m->rgb = order == "RGB";
  auto scale = json_fields::Number(input, "scale", default_scale, 0, 1e6, "input.");
  if (!scale.ok() || !(*scale > 0)) return Invalid(kind, "input.scale must be in (0, 1e6]");
  m->scale = static_cast<float>(*scale);
  auto mean = ReadTriple(kind, input, "mean", {0.f, 0.f, 0.f});
  if (!mean.ok()) return mean.status();
  m->mean = *mean;
  auto stdev = ReadTriple(kind, input, "std", {1.f, 1.f, 1.f});
  if (!stdev.ok()) return stdev.status();
  m->std = *stdev;
  for (float s : m->std) {
    if (!(s > 0)) return Invalid(kind, "input.std values must be > 0");
  }
  return absl::OkStatus();
}

}  // namespace photosearch::manifest_json
