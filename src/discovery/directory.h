// Directory: where a gateway learns which index servers exist and which
// shards each serves. Two implementations: a static list of servers from a
// YAML file (static_directory.h), and the live registrations in etcd
// (etcd_directory.h).
//
// A view is a snapshot: the directory keeps the last view it could build, so
// a source that becomes unreachable leaves the gateway with its last known
// servers (marked stale) rather than with none.
//
// Thread-safety: View() is thread-safe in every implementation.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "discovery/registration.h"

namespace photosearch {

struct DirectoryView {
  // Every shard registered now, in key order (model, window, partition,
  // address). Empty for a static directory: the gateway asks each server what
  // it serves.
  std::vector<Registration> registrations;
  // Addresses ("host:port"), sorted, without duplicates. Static directory:
  // those of the file; etcd: the distinct addresses of `registrations`.
  std::vector<std::string> servers;
  // The source is unreachable (or was never reached): this is the last view.
  bool stale = false;
  std::string stale_reason;  // why, for logs and /status pages; "" when fresh
  // Bumps on every change of this view (registrations or staleness), so a
  // reader can skip work when it has already seen a generation.
  int64_t generation = 0;
};

class Directory {
 public:
  virtual ~Directory() = default;
  // A copy of the current view.
  virtual DirectoryView View() const = 0;
};

}  // namespace photosearch
