#include "serving/tombstone_feed.h"

#include "spdlog/spdlog.h"

namespace photosearch {

TombstoneFeed::~TombstoneFeed() {
  poller_.Stop();
}

absl::Status TombstoneFeed::Refresh() {
  std::lock_guard<std::mutex> lock(refresh_mu_);
  const size_t before = set_.changes();
  absl::StatusOr<int> read = log_.CatchUp(&set_, &cursor_);
  // What was read before an error is applied too.
  if (set_.changes() != before) {
    for (const auto& listener : listeners_) listener(set_);
  }
  if (!read.ok()) {
    std::string error(read.status().message());
    if (error != last_error_) spdlog::warn("tombstones: {}", error);
    last_error_ = std::move(error);
    return read.status();
  }
  if (!last_error_.empty()) spdlog::info("tombstones: reading again");
  last_error_.clear();
  return absl::OkStatus();
}

void TombstoneFeed::StartPolling(int interval_ms) {
  poller_.Start(interval_ms, [this] { (void)Refresh(); });  // errors are logged by Refresh
}

void TombstoneFeed::AddListener(std::function<void(const TombstoneSet&)> listener) {
  std::lock_guard<std::mutex> lock(refresh_mu_);
  listeners_.push_back(std::move(listener));
}

int64_t TombstoneFeed::next_batch() const {
  std::lock_guard<std::mutex> lock(refresh_mu_);
  return cursor_.next;
}

}  // namespace photosearch
