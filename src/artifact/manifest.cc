#include "artifact/manifest.h"

#include "absl/strings/str_cat.h"
#include "base/json_fields.h"
#include "base/status_macros.h"
#include "nlohmann/json.hpp"

namespace photosearch {

using nlohmann::json;

std::string ManifestToJson(const ArtifactManifest& m) {
  json files = json::array();
  for (const FileEntry& f : m.files) {
    files.push_back({{"name", f.name}, {"size", f.size_bytes}, {"sha256", f.sha256}});
  }
  json j = {{"schema_version", ArtifactManifest::kSchemaVersion},
            {"kind", m.kind},
            {"model_id", m.model_id},
            {"dimension", m.dimension},
            {"metric", m.metric},
            {"index", m.index},
            {"window", m.window},
            {"partition", {{"index", m.partition}, {"count", m.partitions}}},
            {"item_count", m.item_count},
            {"version", m.version},
            {"created_at", m.created_at},
            {"inputs", m.inputs},
            {"files", files}};
  return DumpJson(j, 2) + "\n";
}

namespace {

// A file of an artifact is named by a plain relative path inside its version
// directory, printable, and not one of the names the repository itself writes
// there: a manifest must not point readers anywhere else.
absl::Status ValidateFileName(const std::string& name) {
  bool plain = !name.empty() && name.size() <= 255 && name.front() != '/' &&
               name.find('\\') == std::string::npos && name != "manifest.json" && name != "CLAIM";
  for (unsigned char c : name) plain = plain && c >= 0x20 && c != 0x7f;
  for (size_t begin = 0; plain && begin <= name.size();) {
    size_t end = name.find('/', begin);
    if (end == std::string::npos) end = name.size();
    const std::string_view segment(name.data() + begin, end - begin);
    plain = !segment.empty() && segment != "." && segment != "..";
    begin = end + 1;
  }
  if (!plain) {
    return absl::DataLossError(absl::StrCat("manifest: file name '", name.substr(0, 100),
                                            "' is not a plain relative path"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<ArtifactManifest> ParseManifest(std::string_view json_text) {
  absl::StatusOr<json> parsed = json_fields::Parse(json_text);
  if (!parsed.ok() || !parsed->is_object()) {
    return absl::DataLossError(absl::StrCat(
        "manifest is not a JSON object", parsed.ok() ? "" : ": ", parsed.status().message()));
  }
  json j = std::move(*parsed);
  ArtifactManifest m;
  // Numbers are range-checked before they are narrowed (json_fields.h).
  auto integer = [](const json& value, int64_t min, int64_t max,
                    const char* name) -> absl::StatusOr<int64_t> {
    auto v = json_fields::IntValue(value, min, max, name);
    if (!v.ok()) return absl::DataLossError(absl::StrCat("manifest: ", v.status().message()));
    return v;
  };
  try {
    const json& schema = j.at("schema_version");
    if (!schema.is_number_integer() || schema.get<int64_t>() != ArtifactManifest::kSchemaVersion) {
      return absl::FailedPreconditionError(absl::StrCat(
          "manifest schema_version ", json_fields::Describe(schema),
          " is not supported (this build reads ", ArtifactManifest::kSchemaVersion, ")"));
    }
    m.kind = j.at("kind").get<std::string>();
    m.model_id = j.at("model_id").get<std::string>();
    ASSIGN_OR_RETURN(int64_t dimension, integer(j.at("dimension"), 1, 65536, "dimension"));
    m.dimension = static_cast<int>(dimension);
    m.metric = j.at("metric").get<std::string>();
    m.index = j.value("index", "");
    m.window = j.at("window").get<std::string>();
    const json& partition = j.at("partition");
    ASSIGN_OR_RETURN(int64_t partitions,
                     integer(partition.at("count"), 1, 1 << 20, "partition.count"));
    ASSIGN_OR_RETURN(int64_t index,
                     integer(partition.at("index"), 0, partitions - 1, "partition.index"));
    m.partitions = static_cast<int>(partitions);
    m.partition = static_cast<int>(index);
    ASSIGN_OR_RETURN(m.item_count, integer(j.at("item_count"), 0, INT64_MAX, "item_count"));
    ASSIGN_OR_RETURN(m.version, integer(j.at("version"), 1, INT64_MAX, "version"));
    m.created_at = j.value("created_at", "");
    m.inputs = j.value("inputs", std::map<std::string, std::string>{});
    const json& files = j.at("files");
    if (!files.is_array() || files.empty()) {
      return absl::DataLossError("manifest: \"files\" must be a non-empty list");
    }
    for (const json& f : files) {
      FileEntry entry;
      entry.name = f.at("name").get<std::string>();
      RETURN_IF_ERROR(ValidateFileName(entry.name));
      ASSIGN_OR_RETURN(int64_t size, integer(f.at("size"), 0, INT64_MAX, "files[].size"));
      entry.size_bytes = static_cast<uint64_t>(size);
      entry.sha256 = f.at("sha256").get<std::string>();
      if (entry.sha256.size() != 64 ||
          entry.sha256.find_first_not_of("0123456789abcdef") != std::string::npos) {
        return absl::DataLossError(
            absl::StrCat("manifest: sha256 of ", entry.name, " is not 64 hex digits"));
      }
      for (const FileEntry& other : m.files) {
        if (other.name == entry.name) {
          return absl::DataLossError(absl::StrCat("manifest: ", entry.name, " is listed twice"));
        }
      }
      m.files.push_back(std::move(entry));
    }
  } catch (const json::exception& e) {
    return absl::DataLossError(absl::StrCat("manifest: missing or mistyped field: ", e.what()));
  }
  return m;
}

}  // namespace photosearch
