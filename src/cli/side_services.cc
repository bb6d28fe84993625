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
  thread_ = std::thread([this, registrar, registrations, interval_ms] {
    std::unique_lock<std::mutex> lock(mu_);
    while (!cv_.wait_for(lock, std::chrono::milliseconds(interval_ms), [this] { return stopping_; })) {
      lock.unlock();
      absl::Status set = registrar->Set(registrations());
      if (!set.ok()) spdlog::debug("etcd: {}", std::string(set.message()));
      lock.lock();
    }
  });
}

RegistrationPublisher::~RegistrationPublisher() { Stop(); }

void RegistrationPublisher::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

}  // namespace photosearch
