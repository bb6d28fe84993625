// What the long-running gRPC processes (`index-server`, `ingest`) run beside
// their service: an HTTP port for probes and Prometheus, and a thread that
// keeps their etcd registrations equal to what they serve.
//
// Thread-safety: Start/Stop from one thread; handlers run on httplib's pool.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "base/metrics.h"
#include "base/periodic.h"
#include "discovery/etcd_registrar.h"

namespace httplib {
class Server;
}

namespace photosearch {

// GET /metrics (Prometheus text), /healthz, /readyz (`ready` says why not:
// 503 with the message) and any extra JSON routes.
class ProbeHttp {
 public:
  using JsonHandler = std::function<std::string()>;  // the body of a 200 application/json
  ProbeHttp(MetricsRegistry* metrics, std::function<absl::Status()> ready,
            std::map<std::string, JsonHandler> routes = {});
  ~ProbeHttp();
  // Binds host:port (0: any free port); returns the port and serves on a thread.
  absl::StatusOr<int> Start(const std::string& host, int port);
  void Stop();

 private:
  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
};

// Calls registrar->Set(registrations()) every `interval_ms` until Stop.
class RegistrationPublisher {
 public:
  RegistrationPublisher(EtcdRegistrar* registrar,
                        std::function<std::vector<Registration>()> registrations,
                        int interval_ms = 500);
  void Stop() { thread_.Stop(); }

 private:
  PeriodicThread thread_;
};

// Registers `initial` in etcd under one lease kept alive by a registrar.
// An etcd that does not answer yet is logged, not an error (the registrar
// keeps trying); a bad endpoint or registration is.
absl::StatusOr<std::unique_ptr<EtcdRegistrar>> StartRegistrar(const std::string& etcd,
                                                              int lease_ttl,
                                                              std::vector<Registration> initial);

}  // namespace photosearch
