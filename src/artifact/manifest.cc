#include "artifact/manifest.h"

#include "absl/strings/str_cat.h"
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
  return j.dump(2) + "\n";
}

absl::StatusOr<ArtifactManifest> ParseManifest(std::string_view json_text) {
  json j = json::parse(json_text.begin(), json_text.end(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) {
    return absl::DataLossError("manifest is not a JSON object");
  }
  ArtifactManifest m;
  try {
    int schema = j.at("schema_version").get<int>();
    if (schema != ArtifactManifest::kSchemaVersion) {
      return absl::FailedPreconditionError(absl::StrCat("manifest schema_version ", schema,
                                                        " is not supported (this build reads ",
                                                        ArtifactManifest::kSchemaVersion, ")"));
    }
    m.kind = j.at("kind").get<std::string>();
    m.model_id = j.at("model_id").get<std::string>();
    m.dimension = j.at("dimension").get<int>();
    m.metric = j.at("metric").get<std::string>();
    m.index = j.value("index", "");
    m.window = j.at("window").get<std::string>();
    m.partition = j.at("partition").at("index").get<int>();
    m.partitions = j.at("partition").at("count").get<int>();
    m.item_count = j.at("item_count").get<int64_t>();
    m.version = j.at("version").get<int64_t>();
    m.created_at = j.value("created_at", "");
    m.inputs = j.value("inputs", std::map<std::string, std::string>{});
    for (const json& f : j.at("files")) {
      m.files.push_back(FileEntry{f.at("name").get<std::string>(), f.at("size").get<uint64_t>(),
                                  f.at("sha256").get<std::string>()});
    }
  } catch (const json::exception& e) {
    return absl::DataLossError(absl::StrCat("manifest: missing or mistyped field: ", e.what()));
  }
  if (m.dimension < 1 || m.partitions < 1 || m.partition < 0 || m.partition >= m.partitions ||
      m.item_count < 0 || m.version < 1) {
    return absl::DataLossError(
        "manifest: dimension, partition, item_count or version out of range");
  }
  return m;
}

}  // namespace photosearch
