// The wiring every command that answers queries shares:
//   store -> repository -> shards (ShardManager) -> model -> detector ->
//   backend (local shards, or index servers through discovery) -> SearchService
// `serve` and `search` use all of it with the local backend; `gateway` skips
// the repository and uses the remote backend; `index-server` stops after the
// shards and reads only the model's manifest (it never embeds).
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "artifact/repository.h"
#include "base/metrics.h"
#include "cli/commands.h"
#include "discovery/directory.h"
#include "gateway/backend.h"
#include "gateway/search_service.h"
#include "serving/shard_manager.h"

namespace photosearch {

struct QueryStackOptions {
  std::string command;  // for messages
  ModelFlags model;
  DecodeLimits limits;
  int default_replicas = 1;
  bool load_model = true;  // false: only the manifest (id, dimension)
  DetectPolicy detect = DetectPolicy::kAll;  // the detector is loaded unless kWhole...
  std::string detector;                      // ... or this is "none"

  std::string repo;  // "": no local shards
  ShardSelection selection;
  int poll_seconds = 0;   // 0: load once
  int tombstone_poll_ms = 500;  // new deletes read this often; 0: once, at start
  bool need_shards = false;  // a repository without shards of the model is an error
  bool repo_must_exist = false;  // a local repository path that does not exist is an error

  Directory* directory = nullptr;  // set: search index servers instead of local shards
  int health_interval_ms = 1000;
  FanOutOptions fan_out;
};

struct QueryStack {
  ModelManifest model;
  MetricsRegistry metrics;
  std::unique_ptr<Repository> repository;
  std::unique_ptr<TombstoneFeed> tombstones;  // with a repository; before shards (destroyed after)
  std::unique_ptr<ShardManager> shards;
  std::unique_ptr<PhotoEmbedder> embedder;
  std::unique_ptr<Detector> detector;
  std::unique_ptr<SearchBackend> backend;
  std::unique_ptr<SearchService> service;  // when the model is loaded
};

absl::StatusOr<std::unique_ptr<QueryStack>> BuildQueryStack(const QueryStackOptions& options);

struct HttpFrontFlags {
  std::string host;
  int port = 0;
  std::string photos;
  uint64_t max_body_bytes = 0;
};

// The REST API and web page over `stack.service` for `serve` and `gateway`:
// binds, prints "photosearch <command>: <summary>" and the address, serves
// until SIGINT/SIGTERM. Returns the exit code.
int ServeHttp(const std::string& command, QueryStack& stack, const HttpFrontFlags& flags,
              const std::string& summary);

// Runs `stop(signal)` on the first SIGINT or SIGTERM, from a watcher thread
// (the handler only writes to a pipe). The destructor ends the watcher.
class StopOnSignal {
 public:
  explicit StopOnSignal(std::function<void(int)> stop);
  ~StopOnSignal();
  StopOnSignal(const StopOnSignal&) = delete;
  StopOnSignal& operator=(const StopOnSignal&) = delete;

 private:
  std::thread watcher_;
};

}  // namespace photosearch
