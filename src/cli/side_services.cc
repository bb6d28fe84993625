#include "cli/side_services.h"

#include <httplib.h>

#include "absl/strings/str_cat.h"
#include "base/json_fields.h"
#include "spdlog/spdlog.h"

namespace photosearch {

ProbeHttp::ProbeHttp(MetricsRegistry* metrics, std::function<absl::Status()> ready,
                     std::map<std::string, JsonHandler> routes)
    : server_(std::make_unique<httplib::Server>()) {
  server_->Get("/metrics", [metrics](const httplib::Request&, httplib::Response& res) {
    res.set_content(metrics->RenderPrometheus(), "text/plain; version=0.0.4");
  });
  server_->Get("/healthz", [](const httplib::Request&, httplib::Response& res) {
    res.set_content("{\"status\":\"ok\"}", "application/json");
  });
  server_->Get("/readyz", [ready](const httplib::Request&, httplib::Response& res) {
    absl::Status status = ready ? ready() : absl::OkStatus();
    if (status.ok()) {
      res.set_content("{\"status\":\"ready\"}", "application/json");
      return;
    }
    res.status = 503;
    res.set_content(DumpJson({{"error", {{"code", 503}, {"message", std::string(status.message())}}}}),
                    "application/json");
  });
  for (const auto& [path, handler] : routes) {
    server_->Get(path, [handler](const httplib::Request&, httplib::Response& res) {
      res.set_content(handler(), "application/json");
    });
  }
}

ProbeHttp::~ProbeHttp() { Stop(); }

absl::StatusOr<int> ProbeHttp::Start(const std::string& host, int port) {
  const int bound = port == 0 ? server_->bind_to_any_port(host)
                              : (server_->bind_to_port(host, port) ? port : -1);
  if (bound < 0) return absl::UnavailableError(absl::StrCat("cannot listen on ", host, ":", port));
  thread_ = std::thread([this] { server_->listen_after_bind(); });
  return bound;
}

void ProbeHttp::Stop() {
  server_->stop();
  if (thread_.joinable()) thread_.join();
}

RegistrationPublisher::RegistrationPublisher(
    EtcdRegistrar* registrar, std::function<std::vector<Registration>()> registrations,
    int interval_ms) {
  thread_.Start(interval_ms, [registrar, registrations] {
    absl::Status set = registrar->Set(registrations());
    if (!set.ok()) spdlog::debug("etcd: {}", std::string(set.message()));
  });
}

absl::StatusOr<std::unique_ptr<EtcdRegistrar>> StartRegistrar(const std::string& etcd,
                                                              int lease_ttl,
                                                              std::vector<Registration> initial) {
  auto registrar = std::make_unique<EtcdRegistrar>(etcd, kDefaultPrefix, lease_ttl);
  if (absl::Status set = registrar->Set(std::move(initial)); !set.ok()) return set;
  absl::Status started = registrar->Start();
  if (started.code() == absl::StatusCode::kInvalidArgument ||
      started.code() == absl::StatusCode::kFailedPrecondition) {
    return started;
  }
  if (!started.ok()) {
    spdlog::warn("etcd: {}; registering when it answers", std::string(started.message()));
  }
  return registrar;
}

}  // namespace photosearch
