#include "artifact/features.h"

#include <cstring>

#include "absl/strings/str_cat.h"
#include "base/files.h"
#include "base/status_macros.h"
#include "index/shard.h"

namespace photosearch {

void FeatureSet::AppendRow(const FeatureSet& from, size_t row, int dimension) {
  ids.push_back(from.ids[row]);
  const float* v = from.vectors.data() + row * dimension;
  vectors.insert(vectors.end(), v, v + dimension);
  if (!from.listed_at.empty()) listed_at.push_back(from.listed_at[row]);
}

absl::StatusOr<std::vector<std::string>> WriteFeatureFiles(const std::string& dir,
                                                           const FeatureSet& features,
                                                           int dimension) {
  if (features.vectors.size() != features.ids.size() * static_cast<size_t>(dimension) ||
      (!features.listed_at.empty() && features.listed_at.size() != features.ids.size())) {
    return absl::InvalidArgumentError(absl::StrCat(
        "features: ", features.ids.size(), " ids, ", features.vectors.size(), " floats and ",
        features.listed_at.size(), " times do not agree at dimension ", dimension));
  }
  std::vector<std::string> files = {dir + "/" + Shard::kIdsFile, dir + "/" + kFeatureVectorsFile};
  RETURN_IF_ERROR(WriteFileAtomic(files[0], EncodeIds(features.ids)));
  RETURN_IF_ERROR(WriteFileAtomic(
      files[1], std::string_view(reinterpret_cast<const char*>(features.vectors.data()),
                                 features.vectors.size() * sizeof(float))));
  if (!features.listed_at.empty()) {
    files.push_back(dir + "/" + kFeatureListedAtFile);
    RETURN_IF_ERROR(WriteFileAtomic(files.back(), EncodeTimes(features.listed_at)));
  }
  return files;
}

absl::StatusOr<FeatureSet> ReadFeatureFiles(const std::string& dir, int dimension) {
  FeatureSet out;
  ASSIGN_OR_RETURN(std::string id_bytes, ReadFile(dir + "/" + Shard::kIdsFile));
  absl::StatusOr<std::vector<std::string>> ids = DecodeIds(id_bytes);
  if (!ids.ok()) return Annotate(ids.status(), dir);
  out.ids = std::move(*ids);
  ASSIGN_OR_RETURN(std::string raw, ReadFile(dir + "/" + kFeatureVectorsFile));
  if (raw.size() != out.ids.size() * dimension * sizeof(float)) {
    return absl::DataLossError(absl::StrCat(dir, ": ", raw.size(), " bytes of vectors for ",
                                            out.ids.size(), " ids of dimension ", dimension));
  }
  out.vectors.resize(out.ids.size() * dimension);
  std::memcpy(out.vectors.data(), raw.data(), raw.size());
  absl::StatusOr<std::string> times = ReadFile(dir + "/" + kFeatureListedAtFile);
  if (times.ok()) {
    absl::StatusOr<std::vector<int64_t>> decoded = DecodeTimes(*times);
    if (!decoded.ok()) return Annotate(decoded.status(), dir);
    if (decoded->size() != out.ids.size()) {
      return absl::DataLossError(absl::StrCat(dir, ": ", decoded->size(), " listing times for ",
                                              out.ids.size(), " ids"));
    }
    out.listed_at = std::move(*decoded);
  } else if (!absl::IsNotFound(times.status())) {
    return times.status();
  }
  return out;
}

absl::StatusOr<FeatureSet> LoadFeatures(Repository& repository, const ArtifactKey& key,
                                        const ArtifactManifest& manifest, int dimension,
                                        const std::string& work_dir) {
  if (manifest.dimension != dimension) {
    return absl::FailedPreconditionError(absl::StrCat(key.Prefix(), manifest.version,
                                                      " has dimension ", manifest.dimension,
                                                      ", the model ", dimension));
  }
  TempDir scratch(work_dir, "features");
  ASSIGN_OR_RETURN(std::string dir, repository.FetchVerified(key, manifest, scratch.path()));
  return ReadFeatureFiles(dir, dimension);
}

absl::StatusOr<ArtifactManifest> PublishFeatures(Repository& repository, const ArtifactKey& key,
                                                 ArtifactManifest manifest,
                                                 const FeatureSet& features,
                                                 const std::string& work_dir) {
  TempDir dir(work_dir, "features");
  ASSIGN_OR_RETURN(std::vector<std::string> files,
                   WriteFeatureFiles(dir.path(), features, manifest.dimension));
  manifest.item_count = static_cast<int64_t>(features.ids.size());
  return repository.Publish(key, std::move(manifest), files);
}

}  // namespace photosearch
