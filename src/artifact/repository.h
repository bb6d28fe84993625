// The artifact repository: versioned, checksummed artifacts in a Store, laid out as
//
//   <root>/<kind>s/<model>/<window>/part-<p>-of-<P>/<version>/   files..., manifest.json
//
// Publishing claims the next version number (an exclusive CLAIM object, so two
// publishers never share a version), uploads every file, and writes
// manifest.json last; an artifact exists for readers only once its manifest
// does, so a crashed publish is never seen half-written. Versions only grow.
// Readers verify sizes and sha256 of every file against the manifest.
//
// Thread-safety: thread-safe (the Store is).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "artifact/manifest.h"
#include "artifact/store.h"
#include "artifact/window.h"

namespace photosearch {

// Which artifact: everything but the version.
struct ArtifactKey {
  std::string kind;  // "shard" | "feature" (stored under "shards/", "features/")
  std::string model_id;
  std::string window = "all";
  int partition = 0;
  int partitions = 1;

  // "shards/<model>/<window>/part-<p>-of-<P>/" (ends in '/').
  std::string Prefix() const;
  std::string ToString() const { return Prefix(); }
};

// Parses what ArtifactKey::Prefix() prints, with an optional version after it:
// "shards/<model>/<window>/part-<p>-of-<P>[/<version>]" (a trailing '/' is
// allowed). *version is 0 when none is given.
absl::StatusOr<ArtifactKey> ParseArtifactPath(const std::string& text, int64_t* version);

// An artifact and its published versions, ascending.
struct ArtifactVersions {
  ArtifactKey key;
  std::vector<int64_t> versions;
};

class Repository {
 public:
  explicit Repository(std::unique_ptr<Store> store) : store_(std::move(store)) {}

  Store& store() { return *store_; }
  std::string url() const { return store_->url(); }

  // Publishes `local_files` (paths; stored under their file names) as the next
  // version of `key`, with `manifest` completed by kind/model/window/partition
  // of the key, version, created_at and the files' sizes and digests.
  // (Crash-safety tests set PHOTOSEARCH_TEST_KILL_BEFORE_MANIFEST=<kind> to
  // have the process SIGKILLed between the files and the manifest.)
  absl::StatusOr<ArtifactManifest> Publish(const ArtifactKey& key, ArtifactManifest manifest,
                                           const std::vector<std::string>& local_files);

  // Published versions of `key`, ascending (claimed but unpublished ones are
  // not listed).
  absl::StatusOr<std::vector<int64_t>> ListVersions(const ArtifactKey& key);

  absl::StatusOr<ArtifactManifest> ReadManifest(const ArtifactKey& key, int64_t version);

  // Makes every file of a published version available locally and checks it
  // against the manifest; returns the directory that holds them. A file that is
  // missing, of the wrong size or with the wrong digest fails with kDataLoss
  // naming the file.
  absl::StatusOr<std::string> FetchVerified(const ArtifactKey& key,
                                            const ArtifactManifest& manifest,
                                            const std::string& scratch_dir);

  // Removes a published version: its manifest first (so readers stop seeing
  // it), then its files. The CLAIM stays, so the number is never reused.
  absl::Status DeleteVersion(const ArtifactKey& key, int64_t version);

  // Every artifact of `kind` ("shard") with a published version, for one
  // model or for all when `model_id` is empty. Reads no manifest.
  absl::StatusOr<std::vector<ArtifactVersions>> ListArtifacts(const std::string& kind,
                                                              const std::string& model_id = "");

 private:
  std::unique_ptr<Store> store_;
};

}  // namespace photosearch
