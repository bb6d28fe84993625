#include "model/manifest_json.h"

#include <filesystem>

#include "base/files.h"
#include "base/json_fields.h"

namespace photosearch::manifest_json {

absl::Status Invalid(const char* kind, const std::string& what) {
  return absl::InvalidArgumentError(absl::StrCat(kind, " manifest: ", what));
}

absl::StatusOr<nlohmann::json> ParseObject(const char* kind, const std::string& text) {
  absl::StatusOr<nlohmann::json> parsed = json_fields::Parse(text);
  if (!parsed.ok()) return Invalid(kind, absl::StrCat("not JSON: ", parsed.status().message()));
  if (!parsed->is_object()) return Invalid(kind, "not a JSON object");
  return parsed;
}

absl::StatusOr<std::array<float, 3>> ReadTriple(const char* kind, const nlohmann::json& j,
                                                const char* key, std::array<float, 3> fallback) {
  if (!j.contains(key)) return fallback;
  const nlohmann::json& v = j.at(key);
  if (!v.is_array() || v.size() != 3) {
    return Invalid(kind, absl::StrCat("input.", key, " must be 3 numbers"));
  }
  std::array<float, 3> out{};
  for (int i = 0; i < 3; ++i) {
    auto value =
        json_fields::NumberValue(v[i], -1e6, 1e6, absl::StrCat("input.", key, "[", i, "]"));
    if (!value.ok()) return Invalid(kind, std::string(value.status().message()));
    out[i] = static_cast<float>(*value);
  }
  return out;
}

absl::StatusOr<std::string> ReadManifestFile(const char* kind, const std::string& path,
                                             std::string* resolved) {
  std::filesystem::path p(path);
  std::error_code ec;
  if (std::filesystem::is_directory(p, ec)) p /= "model.json";
  *resolved = p.string();
  auto text = ReadFile(p.string(), 1 << 20);
  if (!text.ok()) {
    return absl::Status(text.status().code(),
                        absl::StrCat(kind, " manifest: ", text.status().message()));
  }
  return text;
}

std::string Resolve(const std::string& file, const std::string& base_dir) {
  std::filesystem::path p(file);
  return p.is_relative() ? (std::filesystem::path(base_dir) / p).string() : file;
}

std::string DirectoryOf(const std::string& file) {
  return std::filesystem::path(file).parent_path().string();
}

}  // namespace photosearch::manifest_json
