// The manifest of a published artifact (manifest.json): what it is, what built
// it, and every file with its size and sha256. Readers trust an artifact only
// through its manifest, and only after checking the files against it.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace photosearch {

struct FileEntry {
  std::string name;  // relative to the version directory
  uint64_t size_bytes = 0;
  std::string sha256;
};

struct ArtifactManifest {
  static constexpr int kSchemaVersion = 1;

  std::string kind;      // "shard" | "feature"
  std::string model_id;  // e.g. mobilenetv2-gap1280-fp32@1
  int dimension = 0;
  std::string metric = "inner_product";
  std::string index;   // IndexSpec::ToString(), for shards
  std::string window;  // "all", "hour/2026-11-22T05", "day/2026-11-22", "month/2026-11"
  int partition = 0;
  int partitions = 1;
  int64_t item_count = 0;
  int64_t version = 0;                        // set by Publish
  std::string created_at;                     // RFC 3339 UTC, set by Publish
  std::map<std::string, std::string> inputs;  // provenance: source, run id, ...
  std::vector<FileEntry> files;               // set by Publish
};

// inputs[kCatalogReadAtMs] of feature and shard manifests built from a
// catalog: when the read began (unix milliseconds; a rollup's is its oldest
// child's). The live shard hands a listing over to a shard only when this is
// later than the listing's event.
inline constexpr char kCatalogReadAtMs[] = "catalog_read_at_ms";

std::string ManifestToJson(const ArtifactManifest& manifest);
absl::StatusOr<ArtifactManifest> ParseManifest(std::string_view json_text);

}  // namespace photosearch
