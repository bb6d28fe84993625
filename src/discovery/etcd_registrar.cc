#include "discovery/etcd_registrar.h"

#include <algorithm>
#include <chrono>
#include <utility>

#include "absl/strings/str_cat.h"
#include "spdlog/spdlog.h"

namespace photosearch {

EtcdRegistrar::EtcdRegistrar(std::string endpoint, std::string prefix, int ttl_seconds,
                             int request_timeout_ms)
    : prefix_(std::move(prefix)),
      ttl_seconds_(ttl_seconds),
      keepalive_interval_ms_(std::max(300, ttl_seconds * 1000 / 3)),
      retry_interval_ms_(std::min(1000, keepalive_interval_ms_)),
      client_(std::move(endpoint), request_timeout_ms) {}

EtcdRegistrar::~EtcdRegistrar() { Stop(); }

absl::Status EtcdRegistrar::Start() {
  std::lock_guard<std::mutex> lifecycle(lifecycle_mu_);
  if (!client_.status().ok()) return client_.status();
  if (prefix_.empty()) return absl::InvalidArgumentError("etcd registrar: empty key prefix");
  if (ttl_seconds_ < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("etcd registrar: lease TTL must be >= 1 s, not ", ttl_seconds_));
  }
  absl::Status status;
  {
    std::lock_guard<std::mutex> sync(sync_mu_);
    if (started_ || stopped_) {
      return absl::FailedPreconditionError("etcd registrar already started");
    }
    started_ = true;
    status = GrantLocked();
    if (status.ok()) status = SyncLocked();
    if (status.ok()) {
      NoteSuccessLocked();
    } else {
      NoteFailureLocked(status);
    }
  }
  thread_ = std::thread([this] { Run(); });
  return status;
}

absl::Status EtcdRegistrar::Set(std::vector<Registration> regs) {
  std::map<std::string, std::string> desired;
  for (const Registration& r : regs) {
    if (absl::Status s = ValidateRegistration(r); !s.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("etcd registrar: registration ", r.ShardName(), ": ", s.message()));
    }
    desired[RegistrationKey(prefix_, r)] = RegistrationJson(r);
  }
  absl::Status status;
  {
    std::lock_guard<std::mutex> sync(sync_mu_);
    if (stopped_) return absl::FailedPreconditionError("etcd registrar stopped");
    desired_ = std::move(desired);
    if (!started_) return absl::OkStatus();
    if (lease_ == 0) {
      status = absl::UnavailableError(
          "etcd registrar: no lease yet (etcd did not answer); registering when it does");
    } else {
      status = SyncLocked();
    }
    if (status.ok()) return absl::OkStatus();
    NoteFailureLocked(status);
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    kick_ = true;
  }
  wake_.notify_all();
  return status;
}

void EtcdRegistrar::Stop() { Halt(/*revoke=*/true); }

void EtcdRegistrar::Abandon() { Halt(/*revoke=*/false); }

void EtcdRegistrar::Halt(bool revoke) {
  std::lock_guard<std::mutex> lifecycle(lifecycle_mu_);
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
  std::lock_guard<std::mutex> sync(sync_mu_);
  stopped_ = true;
  if (revoke && lease_ != 0) {
    absl::Status s = client_.Revoke(lease_);
    if (!s.ok() && !absl::IsNotFound(s)) {
      spdlog::warn(
          "etcd registrar: could not revoke lease {}; its {} registrations expire in {} s: {}",
          lease_, written_.size(), ttl_seconds_, std::string(s.message()));
    }
  }
  ForgetLeaseLocked();
}

void EtcdRegistrar::Run() {
  while (true) {
    int wait_ms;
    {
      std::lock_guard<std::mutex> sync(sync_mu_);
      wait_ms = failing_ || lease_ == 0 ? retry_interval_ms_ : keepalive_interval_ms_;
    }
    {
      std::unique_lock<std::mutex> lock(mu_);
      wake_.wait_for(lock, std::chrono::milliseconds(wait_ms), [this] { return stop_ || kick_; });
      if (stop_) return;
      kick_ = false;
    }
    std::lock_guard<std::mutex> sync(sync_mu_);
    if (stop_) return;
    TickLocked();
  }
}

void EtcdRegistrar::TickLocked() {
  if (lease_ != 0) {
    absl::StatusOr<int64_t> ttl = client_.KeepAlive(lease_);
    if (absl::IsNotFound(ttl.status())) {
      spdlog::warn(
          "etcd registrar: lease {} is gone ({}); granting a new one and registering "
          "{} shards again",
          lease_, std::string(ttl.status().message()), desired_.size());
      ForgetLeaseLocked();
    } else if (!ttl.ok()) {
      NoteFailureLocked(ttl.status());
      return;
    }
  }
  absl::Status status = lease_ == 0 ? GrantLocked() : absl::OkStatus();
  if (status.ok()) status = SyncLocked();
  if (status.ok()) {
    NoteSuccessLocked();
  } else {
    NoteFailureLocked(status);
  }
}

absl::Status EtcdRegistrar::GrantLocked() {
  absl::StatusOr<int64_t> lease = client_.GrantLease(ttl_seconds_);
  if (!lease.ok()) return lease.status();
  lease_ = *lease;
  lease_id_ = lease_;
  written_.clear();  // nothing is under the new lease yet
  spdlog::info("etcd registrar: lease {} granted (TTL {} s)", lease_, ttl_seconds_);
  return absl::OkStatus();
}

void EtcdRegistrar::ForgetLeaseLocked() {
  lease_ = 0;
  lease_id_ = 0;
  written_.clear();
}

absl::Status EtcdRegistrar::SyncLocked() {
  for (const auto& [key, json] : desired_) {
    if (stop_) return absl::CancelledError("etcd registrar stopping");
    auto it = written_.find(key);
    if (it != written_.end() && it->second == json) continue;
    absl::Status s = client_.Put(key, json, lease_);
    if (absl::IsNotFound(s)) ForgetLeaseLocked();  // the lease vanished meanwhile
    if (!s.ok()) return s;
    written_[key] = json;
  }
  for (auto it = written_.begin(); it != written_.end();) {
    if (desired_.count(it->first) > 0) {
      ++it;
      continue;
    }
    if (stop_) return absl::CancelledError("etcd registrar stopping");
    if (absl::Status s = client_.Delete(it->first); !s.ok()) return s;
    it = written_.erase(it);
  }
  return absl::OkStatus();
}

void EtcdRegistrar::NoteFailureLocked(const absl::Status& status) {
  if (failing_ || absl::IsCancelled(status)) return;
  failing_ = true;
  spdlog::warn("etcd registrar: {}; retrying every {} ms until etcd answers",
               std::string(status.message()), retry_interval_ms_);
}

void EtcdRegistrar::NoteSuccessLocked() {
  if (!failing_) return;
  failing_ = false;
  spdlog::info("etcd registrar: etcd answers again; {} registrations under lease {}",
               written_.size(), lease_);
}

}  // namespace photosearch
