#include "artifact/repository.h"

#include <charconv>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <regex>
#include <tuple>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "base/clock.h"
#include "base/sha256.h"
#include "base/status_macros.h"

namespace photosearch {
namespace {

constexpr char kManifestFile[] = "manifest.json";
constexpr char kClaimFile[] = "CLAIM";
constexpr int kMaxPublishAttempts = 1000;  // claims tried per publish

bool ParseVersion(std::string_view text, int64_t* version) {
  if (text.empty() || text.size() > 18 || text[0] == '0') return false;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), *version);
  return ec == std::errc() && end == text.data() + text.size();
}

struct VersionScan {
  std::vector<int64_t> published;  // ascending
  int64_t highest_claimed = 0;     // published or merely claimed
};

absl::StatusOr<VersionScan> ScanVersions(Store& store, const std::string& prefix) {
  ASSIGN_OR_RETURN(std::vector<std::string> keys, store.List(prefix));
  VersionScan scan;
  for (const std::string& key : keys) {
    std::string_view rest = std::string_view(key).substr(prefix.size());
    size_t slash = rest.find('/');
    if (slash == std::string_view::npos) continue;
    int64_t version = 0;
    if (!ParseVersion(rest.substr(0, slash), &version)) continue;
    std::string_view file = rest.substr(slash + 1);
    if (file == kManifestFile) scan.published.push_back(version);
    scan.highest_claimed = std::max(scan.highest_claimed, version);
  }
  std::sort(scan.published.begin(), scan.published.end());
  return scan;
}

}  // namespace

std::string ArtifactKey::Prefix() const {
  return absl::StrCat(kind, "s/", model_id, "/", window, "/part-", partition, "-of-", partitions,
                      "/");
}

namespace {

// Crash-safety tests kill the process here, with the files uploaded and the
// manifest not yet written: PHOTOSEARCH_TEST_KILL_BEFORE_MANIFEST=<kind>.
void MaybeCrashBeforeManifest(const std::string& kind) {
  const char* fault = std::getenv("PHOTOSEARCH_TEST_KILL_BEFORE_MANIFEST");
  if (fault != nullptr && kind == fault) ::raise(SIGKILL);
}

}  // namespace

absl::StatusOr<ArtifactManifest> Repository::Publish(const ArtifactKey& key,
                                                     ArtifactManifest manifest,
                                                     const std::vector<std::string>& local_files) {
  RETURN_IF_ERROR(ValidateWindow(key.window));
  RETURN_IF_ERROR(ValidatePartition(Partition{key.partition, key.partitions}));
  const std::string prefix = key.Prefix();
  RETURN_IF_ERROR(ValidateKey(prefix.substr(0, prefix.size() - 1)));
  manifest.kind = key.kind;
  manifest.model_id = key.model_id;
  manifest.window = key.window;
  manifest.partition = key.partition;
  manifest.partitions = key.partitions;
  manifest.files.clear();
  for (const std::string& path : local_files) {
    FileEntry entry;
    entry.name = std::filesystem::path(path).filename().string();
    entry.sha256 = Sha256FileHex(path, &entry.size_bytes);
    if (entry.sha256.empty()) return absl::NotFoundError(absl::StrCat("cannot read ", path));
    if (entry.name == kManifestFile || entry.name == kClaimFile) {
      return absl::InvalidArgumentError(
          absl::StrCat("an artifact file may not be named ", entry.name));
    }
    manifest.files.push_back(std::move(entry));
  }

  // Claim a version no other publisher holds: the next after the highest
  // claimed, or, when another publisher takes it first, the one after that.
  ASSIGN_OR_RETURN(VersionScan scan, ScanVersions(*store_, prefix));
  int64_t version = 0;
  for (int64_t candidate = scan.highest_claimed + 1;
       version == 0 && candidate <= scan.highest_claimed + kMaxPublishAttempts; ++candidate) {
    absl::Status claimed = store_->PutIfAbsent(absl::StrCat(prefix, candidate, "/", kClaimFile),
                                               absl::StrCat("claimed at ", NowRfc3339(), "\n"));
    if (claimed.ok()) {
      version = candidate;
    } else if (!absl::IsAlreadyExists(claimed)) {
      return Annotate(claimed, absl::StrCat("claiming a version of ", prefix));
    }
  }
  if (version == 0) {
    return absl::AbortedError(absl::StrCat("could not claim a version of ", prefix, " (over ",
                                           kMaxPublishAttempts, " concurrent publishers)"));
  }
  const std::string version_prefix = absl::StrCat(prefix, version, "/");
  for (size_t i = 0; i < local_files.size(); ++i) {
    RETURN_IF_ERROR(
        Annotate(store_->PutFile(version_prefix + manifest.files[i].name, local_files[i]),
                 absl::StrCat("publishing ", version_prefix)));
  }
  MaybeCrashBeforeManifest(key.kind);
  manifest.version = version;
  manifest.created_at = NowRfc3339();
  RETURN_IF_ERROR(
      Annotate(store_->PutIfAbsent(version_prefix + kManifestFile, ManifestToJson(manifest)),
               absl::StrCat("publishing the manifest of ", version_prefix)));
  return manifest;
}

absl::StatusOr<std::vector<int64_t>> Repository::ListVersions(const ArtifactKey& key) {
  ASSIGN_OR_RETURN(VersionScan scan, ScanVersions(*store_, key.Prefix()));
  return scan.published;
}

absl::StatusOr<ArtifactManifest> Repository::ReadManifest(const ArtifactKey& key, int64_t version) {
  std::string manifest_key = absl::StrCat(key.Prefix(), version, "/", kManifestFile);
  ASSIGN_OR_RETURN(std::string text, store_->Get(manifest_key, 16 << 20));
  auto manifest = ParseManifest(text);
  if (!manifest.ok()) return Annotate(manifest.status(), manifest_key);
  if (manifest->version != version || manifest->model_id != key.model_id ||
      manifest->window != key.window || manifest->partition != key.partition ||
      manifest->partitions != key.partitions || manifest->kind != key.kind) {
    return absl::DataLossError(
        absl::StrCat(manifest_key, ": the manifest describes another artifact than its path"));
  }
  return manifest;
}

absl::StatusOr<std::string> Repository::FetchVerified(const ArtifactKey& key,
                                                      const ArtifactManifest& manifest,
                                                      const std::string& scratch_dir) {
  const std::string version_prefix = absl::StrCat(key.Prefix(), manifest.version, "/");
  if (manifest.files.empty()) {
    return absl::DataLossError(
        absl::StrCat("artifact ", version_prefix, " in ", url(), " lists no files to verify"));
  }
  std::string dir;
  for (const FileEntry& file : manifest.files) {
    const std::string file_key = version_prefix + file.name;
    auto local = store_->GetFile(file_key, scratch_dir);
    if (!local.ok()) {
      return absl::DataLossError(absl::StrCat("artifact ", version_prefix, " in ", url(),
                                              " is missing ", file.name, ": ",
                                              local.status().message()));
    }
    uint64_t size = 0;
    std::string digest = Sha256FileHex(*local, &size);
    if (size != file.size_bytes || digest != file.sha256) {
      return absl::DataLossError(absl::StrCat(
          "artifact ", version_prefix, " in ", url(), " is corrupt: ", file.name, " has ", size,
          " bytes and sha256 ", digest.substr(0, 12), "..., the manifest says ", file.size_bytes,
          " bytes and ", file.sha256.substr(0, 12), "..."));
    }
    std::string parent = std::filesystem::path(*local).parent_path().string();
    if (!dir.empty() && parent != dir) {
      return absl::InternalError("store returned the files of one artifact in two directories");
    }
    dir = parent;
  }
  return dir;
}

absl::StatusOr<std::vector<ArtifactVersions>> Repository::ListArtifacts(
    const std::string& kind, const std::string& model_id) {
  std::string prefix = absl::StrCat(kind, "s/");
  if (!model_id.empty()) absl::StrAppend(&prefix, model_id, "/");
  ASSIGN_OR_RETURN(std::vector<std::string> keys, store_->List(prefix));
  // (model, window, partition, partitions) -> published versions.
  std::map<std::tuple<std::string, std::string, int, int>, std::vector<int64_t>> found;
  static const std::regex kPart(R"(part-(\d{1,6})-of-(\d{1,6}))");
  for (const std::string& key : keys) {
    if (!absl::EndsWith(key, std::string("/") + kManifestFile)) continue;
    std::vector<std::string> parts = absl::StrSplit(key, '/');
    // <kind>s / model / window (1 or 2 segments) / part / version / manifest.json
    if (parts.size() < 6) continue;
    int64_t version = 0;
    std::smatch match;
    const std::string& part = parts[parts.size() - 3];
    if (!ParseVersion(parts[parts.size() - 2], &version) || !std::regex_match(part, match, kPart)) {
      continue;
    }
    std::string window = absl::StrJoin(parts.begin() + 2, parts.end() - 3, "/");
    found[std::make_tuple(parts[1], window, std::stoi(match[1]), std::stoi(match[2]))].push_back(
        version);
  }
  std::vector<ArtifactVersions> out;
  for (auto& [id, versions] : found) {
    std::sort(versions.begin(), versions.end());
    out.push_back(ArtifactVersions{
        ArtifactKey{kind, std::get<0>(id), std::get<1>(id), std::get<2>(id), std::get<3>(id)},
        std::move(versions)});
  }
  return out;
}

absl::Status Repository::DeleteVersion(const ArtifactKey& key, int64_t version) {
  const std::string version_prefix = absl::StrCat(key.Prefix(), version, "/");
  RETURN_IF_ERROR(store_->Delete(version_prefix + kManifestFile));
  ASSIGN_OR_RETURN(std::vector<std::string> keys, store_->List(version_prefix));
  for (const std::string& file_key : keys) {
    if (absl::EndsWith(file_key, std::string("/") + kClaimFile)) continue;
    RETURN_IF_ERROR(store_->Delete(file_key));
  }
  return absl::OkStatus();
}

absl::StatusOr<ArtifactKey> ParseArtifactPath(const std::string& text, int64_t* version) {
  *version = 0;
  std::string path = text;
  while (!path.empty() && path.back() == '/') path.pop_back();
  std::vector<std::string> parts = absl::StrSplit(path, '/');
  auto bad = [&] {
    return absl::InvalidArgumentError(absl::StrCat(
        "'", text,
        "' is not an artifact: expected <kind>s/<model>/<window>/part-<p>-of-<P>[/<version>]",
        " as `photosearch artifacts list` prints it"));
  };
  if (parts.size() < 4 || !absl::EndsWith(parts[0], "s") || parts[0].size() < 2) return bad();
  static const std::regex kPart(R"(part-(\d{1,6})-of-(\d{1,6}))");
  size_t part_at = parts.size() - 1;
  std::smatch match;
  if (!std::regex_match(parts[part_at], match, kPart)) {
    if (!ParseVersion(parts[part_at], version)) return bad();
    --part_at;
    if (!std::regex_match(parts[part_at], match, kPart)) return bad();
  }
  if (part_at < 3) return bad();
  ArtifactKey key;
  key.kind = parts[0].substr(0, parts[0].size() - 1);
  key.model_id = parts[1];
  key.window = absl::StrJoin(parts.begin() + 2, parts.begin() + part_at, "/");
  key.partition = std::stoi(match[1]);
  key.partitions = std::stoi(match[2]);
  RETURN_IF_ERROR(ValidateWindow(key.window));
  RETURN_IF_ERROR(ValidateKey(key.Prefix().substr(0, key.Prefix().size() - 1)));
  if (!ValidatePartition(Partition{key.partition, key.partitions}).ok()) return bad();
  return key;
}

}  // namespace photosearch
