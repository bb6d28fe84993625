// Small filesystem helpers with Status results. Thread-safe (no shared state).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace photosearch {

// Reads a whole file. Fails with kResourceExhausted if it is larger than
// `max_bytes`, kNotFound if it does not exist.
absl::StatusOr<std::string> ReadFile(const std::string& path, uint64_t max_bytes = UINT64_MAX);

// Writes `data` to a temporary file beside `path`, fsyncs it and renames it over
// `path`, so that readers see either the old file or the whole new one.
// Creates missing parent directories.
absl::Status WriteFileAtomic(const std::string& path, std::string_view data);

// Like WriteFileAtomic, but fails with kAlreadyExists instead of replacing an
// existing file (link(2) of the temporary file: atomic and exclusive).
absl::Status WriteFileExclusive(const std::string& path, std::string_view data);

// A new private directory "<base>/photosearch-<tag>-<pid>-<n>" (base "" = the
// system temp directory), removed with everything in it on destruction.
class TempDir {
 public:
  TempDir(const std::string& base, const std::string& tag);
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

}  // namespace photosearch
