// A Directory read once from a YAML file that lists the index servers:
//
//   servers:
//     - 127.0.0.1:7001
//     - 127.0.0.1:7002
//
// for deployments without etcd. The view never changes and is never stale;
// it has no registrations: the gateway asks each server what it serves.
//
// Thread-safety: the returned directory is immutable, so thread-safe.
#pragma once

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "discovery/directory.h"

namespace photosearch {

// At most this many servers in one file.
inline constexpr size_t kMaxStaticServers = 1000;

// Reads and validates `path`: a map with exactly one key, `servers`, a list of
// 1..kMaxStaticServers distinct "host:port" (ValidateHostPort). The file is at
// most 256 KiB of UTF-8.
// Errors: kNotFound / kPermissionDenied... when the file cannot be read;
// kInvalidArgument for anything else, naming the file, the line and the
// entry ("servers.yaml:3: servers[1] \"127.0.0.1\": ...").
absl::StatusOr<std::unique_ptr<Directory>> LoadStaticDirectory(const std::string& path);

}  // namespace photosearch
