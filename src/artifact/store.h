// Store: a flat key -> bytes object store, the seam between the artifact
// repository and where artifacts live: a local directory (LocalStore), or an
// S3-compatible bucket. Keys are '/'-separated relative paths whose segments
// hold only [A-Za-z0-9._@=-] and are not "." or ".."; every implementation
// refuses other keys, so no key can escape the store's root.
//
// Thread-safety: implementations are thread-safe.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace photosearch {

class Store {
 public:
  virtual ~Store() = default;

  // Where the store is, for messages ("/srv/repo", "s3://bucket/prefix").
  virtual std::string url() const = 0;

  // Writes `data` at `key`; readers see the old bytes or all of the new ones.
  virtual absl::Status Put(const std::string& key, std::string_view data) = 0;
  // Like Put, from a local file (streamed for large files).
  virtual absl::Status PutFile(const std::string& key, const std::string& local_path) = 0;
  // Writes only if `key` does not exist yet; kAlreadyExists otherwise. Atomic:
  // of two concurrent callers, exactly one succeeds.
  virtual absl::Status PutIfAbsent(const std::string& key, std::string_view data) = 0;

  // kNotFound if absent; kResourceExhausted if larger than max_bytes.
  virtual absl::StatusOr<std::string> Get(const std::string& key,
                                          uint64_t max_bytes = 64ull << 20) = 0;
  // A local file holding the object: the file itself for a local store, a
  // download under `scratch_dir` for a remote one.
  virtual absl::StatusOr<std::string> GetFile(const std::string& key,
                                              const std::string& scratch_dir) = 0;

  // Every key that starts with `prefix` (a directory-like prefix ending in '/'
  // or empty for all), sorted.
  virtual absl::StatusOr<std::vector<std::string>> List(const std::string& prefix) = 0;

  virtual absl::Status Delete(const std::string& key) = 0;
};

// Checks a key against the rules above.
absl::Status ValidateKey(std::string_view key);

// Opens the store a URL names: a directory path or file:///path (created if
// missing), or s3://bucket/prefix (settings from the environment, see
// s3_store.h). Other schemes are refused with kInvalidArgument.
absl::StatusOr<std::unique_ptr<Store>> OpenStore(const std::string& url);

// The local-directory implementation.
std::unique_ptr<Store> NewLocalStore(const std::string& root);

}  // namespace photosearch
