// Helpers shared by the subcommands.
#pragma once

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "cli/commands.h"
#include "model/detect_policy.h"
#include "model/detector.h"
#include "model/photo_embedder.h"

namespace photosearch {

// Prints "photosearch <command>: <message>" as one line on stderr; returns 1.
int Fail(const std::string& command, const absl::Status& status);

// Where shards fetched from `repo_url` are kept locally: a directory under the
// system temp directory, one per repository (a remote store downloads there;
// a local one is read in place).
std::string ShardCacheDir(const std::string& repo_url);

// Loads the model named by the flags, with the given decode limits.
// `default_replicas` applies when --replicas is 0 (0 here: one per core).
// `worker_nice` > 0 makes the forward passes yield to the process's other
// threads (BatchingEmbedder::Options::nice).
absl::StatusOr<std::unique_ptr<PhotoEmbedder>> LoadModel(const ModelFlags& flags,
                                                         const DecodeLimits& limits,
                                                         int default_replicas,
                                                         int worker_nice = 0);

// The detector for a DetectPolicy: none for kWhole or `path` "none", else the
// manifest at `path` ("" = DefaultDetectorPath()).
absl::StatusOr<std::unique_ptr<Detector>> LoadDetectorFor(DetectPolicy policy,
                                                          const std::string& path);

}  // namespace photosearch
