// IndexServer: the gRPC face of an index server process. Serves
// photosearch.v1.IndexService (Search, Info) over the shards a ShardManager
// keeps loaded, and the standard grpc.health.v1.Health.
//
// Search validates everything it is sent (model id, dimension, finite values,
// k, number of queries and shards, shard names) and answers INVALID_ARGUMENT
// naming what is wrong; the server keeps serving. The search path takes no
// lock: it reads the ShardManager's immutable view, and a swapped-out version
// lives until the last request holding it ends.
//
// Thread-safety: Start/Shutdown from one thread; handlers run on gRPC's pool.
#pragma once

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "base/metrics.h"
#include "serving/shard_manager.h"

namespace photosearch {

struct IndexServerLimits {
  int max_k = 1000;
  int max_queries = 256;      // vectors per request
  int max_shards = 10000;     // shard names per request
  int max_ef_search = 4096;
  int max_nprobe = 65536;
  int max_message_bytes = 64 << 20;
};

class IndexServer {
 public:
  // REQUIRES: shards and metrics outlive the server.
  IndexServer(ShardSource* shards, int dimension, MetricsRegistry* metrics,
              IndexServerLimits limits = {});
  ~IndexServer();

  // Listens on host:port (port 0 picks one); returns the bound port.
  absl::StatusOr<int> Start(const std::string& host, int port);
  // Blocks until Shutdown.
  void Wait();
  // Stops accepting calls; calls in flight get `grace_ms` to finish.
  void Shutdown(int grace_ms);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace photosearch
