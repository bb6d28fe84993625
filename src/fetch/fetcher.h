// Fetcher: photo bytes from http(s)://, s3:// and file:// URLs, several at a
// time, with per-origin keep-alive connections, timeouts, retries with
// exponential backoff, a byte limit, and a size-bounded on-disk cache (LRU) so
// that a re-run (after a crash, or a model change) downloads nothing again.
//
// Cache entries are named by the sha256 of the URL (catalog image URLs are
// immutable, as a marketplace's are); a hit refreshes the entry's age. The
// cache directory may be shared by processes: entries are written under a
// temporary name and renamed into place. file:// URLs are read in place and
// never cached (a copy would cost a write per photo, and could go stale).
//
// What is retried: connection errors, timeouts, HTTP 5xx and 429. What is not:
// 4xx, a body over the limit, a bad URL. Every failure says why in one line.
//
// Thread-safety: Fetch and FetchAll are thread-safe.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace photosearch {

struct FetchOptions {
  int concurrency = 8;            // FetchAll's parallel downloads
  int attempts = 3;               // tries per URL for retryable failures
  int backoff_ms = 200;           // before the 2nd try; doubles after
  int timeout_seconds = 20;       // connect, and each read or write
  uint64_t max_bytes = 20 << 20;  // a larger photo fails with kResourceExhausted
  std::string cache_dir;          // "" = no cache
  uint64_t cache_max_bytes = 10ull << 30;
  std::string file_root;  // file:// URLs must lie under it; "" = refuse file://
};

struct FetchStats {
  std::atomic<int64_t> downloads{0};  // completed network/disk reads
  std::atomic<int64_t> cache_hits{0};
  std::atomic<int64_t> retries{0};
  std::atomic<int64_t> failures{0};
  std::atomic<int64_t> bytes{0};  // downloaded (not from the cache)
};

class Fetcher {
 public:
  static absl::StatusOr<std::unique_ptr<Fetcher>> Create(const FetchOptions& options);
  ~Fetcher();

  // The bytes at `url`; *from_cache (optional) tells whether the cache had them.
  absl::StatusOr<std::string> Fetch(const std::string& url, bool* from_cache = nullptr);

  // Fetches every URL on options.concurrency threads; calls on_done(i, result)
  // once per URL, from those threads, in completion order. Returns when all
  // are done or `cancelled` (optional) becomes true (then the rest are not
  // started and get no call).
  void FetchAll(const std::vector<std::string>& urls,
                const std::function<void(size_t, absl::StatusOr<std::string>)>& on_done,
                const std::atomic<bool>* cancelled = nullptr);

  const FetchStats& stats() const { return stats_; }
  uint64_t cache_bytes() const;

 private:
  struct Impl;
  explicit Fetcher(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
  FetchStats stats_;
};

}  // namespace photosearch
