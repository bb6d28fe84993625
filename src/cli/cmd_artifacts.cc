// `photosearch artifacts list|show|verify|gc`: inspect and maintain an
// artifact repository on any store (a directory or s3://).
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <iostream>

#include "absl/strings/str_cat.h"
#include "artifact/repository.h"
#include "base/status_macros.h"
#include "cli/commands.h"
#include "cli/common.h"

namespace photosearch {
namespace {

const char* const kKinds[] = {"shard", "feature"};

absl::StatusOr<std::vector<ArtifactVersions>> AllArtifacts(Repository& repo,
                                                           const std::string& kind) {
  std::vector<ArtifactVersions> out;
  for (const char* k : kKinds) {
    if (!kind.empty() && kind != "all" && kind != k) continue;
    ASSIGN_OR_RETURN(std::vector<ArtifactVersions> some, repo.ListArtifacts(k));
    out.insert(out.end(), some.begin(), some.end());
  }
  return out;
}

// The artifacts (and versions) an optional ARTIFACT[/VERSION] argument names:
// all of them when empty.
absl::StatusOr<std::vector<ArtifactVersions>> Selected(Repository& repo, const std::string& path) {
  ASSIGN_OR_RETURN(std::vector<ArtifactVersions> all, AllArtifacts(repo, "all"));
  if (path.empty()) return all;
  int64_t version = 0;
  ASSIGN_OR_RETURN(ArtifactKey key, ParseArtifactPath(path, &version));
  for (ArtifactVersions& a : all) {
    if (a.key.Prefix() != key.Prefix()) continue;
    if (version == 0) return std::vector<ArtifactVersions>{a};
    if (std::find(a.versions.begin(), a.versions.end(), version) == a.versions.end()) break;
    return std::vector<ArtifactVersions>{ArtifactVersions{a.key, {version}}};
  }
  return absl::NotFoundError(absl::StrCat("no published ", path, " in ", repo.url()));
}

int List(Repository& repo, const ArtifactsFlags& flags) {
  auto artifacts = AllArtifacts(repo, flags.kind);
  if (!artifacts.ok()) return Fail("artifacts list", artifacts.status());
  if (artifacts->empty()) {
    std::printf("no artifacts in %s\n", repo.url().c_str());
    return 0;
  }
  for (const ArtifactVersions& a : *artifacts) {
    auto newest = repo.ReadManifest(a.key, a.versions.back());
    std::string about = newest.ok() ? absl::StrCat(newest->item_count, " items, ", newest->index,
                                                   ", ", newest->created_at)
                                    : absl::StrCat("unreadable: ", newest.status().message());
    std::printf("%s  %zu version%s (newest %lld: %s)\n", a.key.Prefix().c_str(), a.versions.size(),
                a.versions.size() == 1 ? "" : "s", static_cast<long long>(a.versions.back()),
                about.c_str());
  }
  return 0;
}

int Show(Repository& repo, const ArtifactsFlags& flags) {
  auto selected = Selected(repo, flags.artifact);
  if (!selected.ok()) return Fail("artifacts show", selected.status());
  const ArtifactVersions& a = selected->front();
  auto manifest = repo.ReadManifest(a.key, a.versions.back());
  if (!manifest.ok()) return Fail("artifacts show", manifest.status());
  std::cout << ManifestToJson(*manifest) << std::endl;
  return 0;
}

int Verify(Repository& repo, const ArtifactsFlags& flags) {
  auto selected = Selected(repo, flags.artifact);
  if (!selected.ok()) return Fail("artifacts verify", selected.status());
  std::error_code ec;
  const std::string scratch =
      (std::filesystem::temp_directory_path() / absl::StrCat("photosearch-verify-", ::getpid()))
          .string();
  int checked = 0, bad = 0;
  for (const ArtifactVersions& a : *selected) {
    for (int64_t version : a.versions) {
      ++checked;
      auto manifest = repo.ReadManifest(a.key, version);
      absl::Status status = manifest.status();
      if (manifest.ok()) status = repo.FetchVerified(a.key, *manifest, scratch).status();
      std::printf("%s%lld  %s\n", a.key.Prefix().c_str(), static_cast<long long>(version),
                  status.ok() ? "ok" : std::string(status.message()).c_str());
      bad += !status.ok();
      std::filesystem::remove_all(scratch, ec);  // downloads of a remote store
    }
  }
  std::printf("%d version%s checked, %d corrupt\n", checked, checked == 1 ? "" : "s", bad);
  return bad == 0 ? 0 : 1;
}

int Gc(Repository& repo, const ArtifactsFlags& flags) {
  auto selected = Selected(repo, flags.artifact);
  if (!selected.ok()) return Fail("artifacts gc", selected.status());
  int removed = 0;
  for (const ArtifactVersions& a : *selected) {
    const int excess = static_cast<int>(a.versions.size()) - flags.keep;
    for (int i = 0; i < excess; ++i) {
      const int64_t version = a.versions[i];
      if (!flags.dry_run) {
        if (absl::Status s = repo.DeleteVersion(a.key, version); !s.ok()) {
          return Fail("artifacts gc", s);
        }
      }
      std::printf("%s %s%lld\n", flags.dry_run ? "would remove" : "removed", a.key.Prefix().c_str(),
                  static_cast<long long>(version));
      ++removed;
    }
  }
  std::printf("%s %d version%s, kept the newest %d of each artifact\n",
              flags.dry_run ? "would remove" : "removed", removed, removed == 1 ? "" : "s",
              flags.keep);
  return 0;
}

}  // namespace

int RunArtifacts(const ArtifactsFlags& flags) {
  auto store = OpenStore(flags.repo);
  if (!store.ok()) return Fail("artifacts", store.status());
  Repository repo(std::move(*store));
  if (flags.action == "list") return List(repo, flags);
  if (flags.action == "show") return Show(repo, flags);
  if (flags.action == "verify") return Verify(repo, flags);
  return Gc(repo, flags);
}

}  // namespace photosearch
