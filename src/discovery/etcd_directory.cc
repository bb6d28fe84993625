#include "discovery/etcd_directory.h"

#include <algorithm>
#include <chrono>
#include <set>
#include <string_view>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "spdlog/spdlog.h"

namespace photosearch {
namespace {

using Clock = std::chrono::steady_clock;

// A watch that lasted this long (or delivered anything) was healthy: the
// next failure starts the backoff over.
constexpr auto kHealthyWatch = std::chrono::seconds(1);

// A key from etcd, safe and short for a log line.
std::string Printable(std::string_view text) {
  std::string out(text.substr(0, 200));
  for (char& c : out) {
    if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) >= 0x7f) c = '?';
  }
  if (text.size() > 200) out += "...";
  return out;
}

}  // namespace

EtcdDirectory::EtcdDirectory(std::string endpoint, std::string prefix, std::string model,
                             EtcdDirectoryOptions options)
    : prefix_(std::move(prefix)),
      model_(std::move(model)),
      key_prefix_(prefix_ + model_ + "/"),
      options_(options),
      client_(std::move(endpoint), options.request_timeout_ms) {
  view_.stale = true;
  view_.stale_reason = "not started";
}

EtcdDirectory::~EtcdDirectory() { Stop(); }

absl::Status EtcdDirectory::Start() {
  std::lock_guard<std::mutex> lifecycle(lifecycle_mu_);
  if (!client_.status().ok()) return client_.status();
  if (prefix_.empty()) return absl::InvalidArgumentError("etcd directory: empty key prefix");
  if (absl::Status s = ValidateModelId(model_); !s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("etcd directory: ", s.message()));
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (started_) return absl::FailedPreconditionError("etcd directory already started");
    started_ = true;
  }
  int64_t revision = 0;
  const bool listed = List(&revision);
  thread_ = std::thread([this, listed, revision] { Run(listed, revision); });
  return absl::OkStatus();
}

void EtcdDirectory::Stop() {
  std::lock_guard<std::mutex> lifecycle(lifecycle_mu_);
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  wake_.notify_all();
  client_.Shutdown();  // ends a list blocked on a hung etcd
  if (thread_.joinable()) thread_.join();
}

DirectoryView EtcdDirectory::View() const {
  std::lock_guard<std::mutex> lock(mu_);
  return view_;
}

bool EtcdDirectory::Sleep(int ms) {
  std::unique_lock<std::mutex> lock(mu_);
  wake_.wait_for(lock, std::chrono::milliseconds(ms), [this] { return stop_.load(); });
  return !stop_;
}

void EtcdDirectory::Run(bool listed, int64_t revision) {
  int backoff_ms = options_.min_backoff_ms;
  auto back_off = [&] {
    const int ms = backoff_ms;
    backoff_ms = std::min(backoff_ms * 2, options_.max_backoff_ms);
    return Sleep(ms);
  };
  while (!stop_) {
    if (!listed) {
      if (!List(&revision)) {
        if (!back_off()) return;
        continue;
      }
      listed = true;
    }
    const Clock::time_point began = Clock::now();
    bool delivered = false;
    absl::Status ended = client_.Watch(
        key_prefix_, revision + 1,
        [&](const WatchBatch& batch) {
          delivered = true;
          revision = std::max(revision, batch.revision);
          Apply(batch);
          return !stop_;
        },
        &stop_, options_.watch_idle_timeout_ms);
    if (stop_) return;
    // Whatever ended the watch (etcd stopped, compaction, idle, garbage),
    // list again: that also tells whether etcd is reachable.
    listed = false;
    if (absl::IsDeadlineExceeded(ended)) {
      spdlog::debug("etcd directory {}: {}; listing again", key_prefix_,
                    std::string(ended.message()));
    } else {
      spdlog::info("etcd directory {}: watch ended: {}; listing again", key_prefix_,
                   std::string(ended.message()));
    }
    if (delivered || Clock::now() - began >= kHealthyWatch) {
      backoff_ms = options_.min_backoff_ms;
    } else if (!back_off()) {  // a watch that fails at once must not spin
      return;
    }
  }
}

bool EtcdDirectory::List(int64_t* revision) {
  absl::StatusOr<RangeResult> range = client_.GetPrefix(key_prefix_);
  if (!range.ok()) {
    if (!absl::IsCancelled(range.status())) MarkStale(range.status());
    return false;
  }
  std::lock_guard<std::mutex> lock(mu_);
  std::map<std::string, Registration> entries;
  for (const KeyValue& kv : range->kvs) {
    if (!absl::StartsWith(kv.key, key_prefix_)) continue;
    std::optional<Registration> r = Decode(kv.key, kv.value, kv.mod_revision);
    if (r) entries.emplace(kv.key, *std::move(r));
  }
  // Forget refusals of keys that are gone.
  std::set<std::string_view> listed;
  for (const KeyValue& kv : range->kvs) listed.insert(kv.key);
  for (auto it = refused_.begin(); it != refused_.end();) {
    it = listed.count(it->first) > 0 ? std::next(it) : refused_.erase(it);
  }
  if (view_.stale && listed_once_) {
    spdlog::info("etcd directory {}: etcd answers again ({} registrations)", key_prefix_,
                 entries.size());
  }
  if (view_.stale || entries != entries_) {
    entries_ = std::move(entries);
    PublishLocked();
  }
  listed_once_ = true;
  *revision = range->revision;
  return true;
}

void EtcdDirectory::Apply(const WatchBatch& batch) {
  std::lock_guard<std::mutex> lock(mu_);
  bool changed = false;
  for (const WatchEvent& event : batch.events) {
    if (!absl::StartsWith(event.key, key_prefix_)) continue;
    if (event.put) {
      std::optional<Registration> r = Decode(event.key, event.value, event.revision);
      if (r) {
        auto it = entries_.find(event.key);
        if (it == entries_.end() || it->second != *r) {
          entries_[event.key] = *std::move(r);
          changed = true;
        }
        continue;
      }
    } else {
      refused_.erase(event.key);
    }
    // A delete, or a key whose value is now refused.
    changed |= entries_.erase(event.key) > 0;
  }
  if (changed) PublishLocked();
}

std::optional<Registration> EtcdDirectory::Decode(const std::string& key, const std::string& value,
                                                  int64_t revision) {
  absl::StatusOr<Registration> r = ParseRegistration(value);
  absl::Status refusal = r.status();
  if (r.ok() && RegistrationKey(prefix_, *r) != key) {
    refusal = absl::InvalidArgumentError(absl::StrCat(
        "the value is registration ", Printable(RegistrationKey(prefix_, *r)), ", not the key's"));
  }
  if (refusal.ok()) {
    refused_.erase(key);
    return *std::move(r);
  }
  auto [it, inserted] = refused_.emplace(key, revision);
  if (inserted || it->second != revision) {
    it->second = revision;
    spdlog::warn("etcd directory: skipping {} (revision {}): {}", Printable(key), revision,
                 std::string(refusal.message()));
  }
  return std::nullopt;
}

void EtcdDirectory::MarkStale(const absl::Status& why) {
  std::lock_guard<std::mutex> lock(mu_);
  const std::string reason(why.message());
  if (view_.stale && view_.stale_reason == reason) return;
  if (!listed_once_) {
    if (view_.stale_reason == "not started") {
      spdlog::warn("etcd directory {}: etcd unreachable; retrying: {}", key_prefix_, reason);
    }
  } else if (!view_.stale) {
    spdlog::warn(
        "etcd directory {}: etcd unreachable, keeping the last view ({} registrations): {}",
        key_prefix_, view_.registrations.size(), reason);
  }
  view_.stale = true;
  view_.stale_reason = reason;
  ++view_.generation;
}

void EtcdDirectory::PublishLocked() {
  view_.registrations.clear();
  view_.servers.clear();
  for (const auto& [key, r] : entries_) {
    view_.registrations.push_back(r);
    view_.servers.push_back(r.address);
  }
  std::sort(view_.servers.begin(), view_.servers.end());
  view_.servers.erase(std::unique(view_.servers.begin(), view_.servers.end()), view_.servers.end());
  view_.stale = false;
  view_.stale_reason.clear();
  ++view_.generation;
}

}  // namespace photosearch
