// RemoteBackend: the gateway's SearchBackend. Index servers come from a
// Directory (etcd registrations, or a static list of addresses); each is
// health-checked with an Info call every `health_interval_ms` (etcd's lease
// expiry alone is slow and reset by an etcd restart), which also tells what a
// server of a static list serves. A shard is available to the planner while at
// least one replica is healthy; searches go through FanOut over one reused
// gRPC channel per server.
//
// A server that fails a Search with UNAVAILABLE, or a health check with an
// error, is marked unhealthy at once (its shards leave the plan until the next
// successful health check); health checks that only time out mark it down
// after the third in a row. When every server is down, queries try them all
// anyway.
//
// Thread-safety: thread-safe. The search path reads an immutable topology
// behind an atomic pointer, rebuilt by the health-check thread.
#pragma once

#include <atomic>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "base/metrics.h"
#include "discovery/directory.h"
#include "gateway/backend.h"

namespace photosearch {

struct RemoteBackendOptions {
  std::string model;  // only shards of this model are used
  int dimension = 0;
  int health_interval_ms = 1000;
  int health_timeout_ms = 500;
};

class RemoteBackend : public SearchBackend {
 public:
  // REQUIRES: directory and metrics outlive the backend.
  RemoteBackend(Directory* directory, MetricsRegistry* metrics, RemoteBackendOptions options);
  ~RemoteBackend() override;

  // Checks every server once, then keeps checking on a background thread.
  void Start();

  std::vector<ShardId> Available() const override;
  std::vector<ShardId> Known() const override;
  ShardAnswer Search(const ShardQuery& query) const override;
  std::vector<ShardState> Shards() const override;
  absl::Status Ready(std::string* note) const override;

  struct Server;    // one index server: channel, health, what it serves
  struct Topology;  // shards -> replicas, rebuilt by CheckServers

 private:
  void CheckServers();

  Directory* const directory_;
  MetricsRegistry* const metrics_;
  const RemoteBackendOptions options_;
  Counter* const partial_answers_;

  std::mutex servers_mu_;  // CheckServers only
  std::map<std::string, std::shared_ptr<Server>> servers_;
  std::atomic<std::shared_ptr<const Topology>> topology_;

  std::mutex stop_mu_;
  std::condition_variable stop_cv_;
  bool stopping_ = false;
  std::thread checker_;
};

}  // namespace photosearch
