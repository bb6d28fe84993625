#include "fetch/fetcher.h"

#include <httplib.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "artifact/s3_store.h"
#include "base/files.h"
#include "base/sha256.h"
#include "base/status_macros.h"

namespace photosearch {

namespace fs = std::filesystem;

namespace {

struct Attempt {
  absl::StatusOr<std::string> bytes = absl::UnknownError("not tried");
  bool retryable = false;
};

bool SafeUrlText(const std::string& url) {
  for (unsigned char c : url) {
    if (c <= 0x20 || c >= 0x7f) return false;
  }
  return url.size() <= 4096;
}

}  // namespace

struct Fetcher::Impl {
  FetchOptions options;
  FetchStats* stats = nullptr;

  // --- cache: name -> (size, last use); guarded by cache_mu.
  std::mutex cache_mu;
  struct Entry {
    uint64_t size = 0;
    int64_t last_use = 0;
  };
  std::map<std::string, Entry> entries;
  std::set<std::pair<int64_t, std::string>> by_age;
  uint64_t cache_total = 0;
  int64_t clock = 0;

  // --- connections: origin -> idle clients; guarded by clients_mu.
  std::mutex clients_mu;
  std::map<std::string, std::vector<std::unique_ptr<httplib::Client>>> idle;

  // --- S3 buckets: "s3://bucket" -> store; guarded by s3_mu.
  std::mutex s3_mu;
  std::map<std::string, std::unique_ptr<Store>> buckets;

  static std::string CacheName(const std::string& url) {
    std::string h = Sha256Hex(url);
    return h.substr(0, 2) + "/" + h;
  }

  void LoadCache() {
    std::error_code ec;
    std::vector<std::pair<fs::file_time_type, std::pair<std::string, uint64_t>>> found;
    for (auto it = fs::recursive_directory_iterator(options.cache_dir, ec);
         !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
      if (!it->is_regular_file(ec) || absl::StrContains(it->path().filename().string(), ".tmp")) {
        continue;
      }
      std::string name = it->path().lexically_relative(options.cache_dir).generic_string();
      found.push_back({it->last_write_time(ec), {name, it->file_size(ec)}});
    }
    std::sort(found.begin(), found.end());
    for (const auto& [time, file] : found) Insert(file.first, file.second);
    RemoveFiles(EvictOverSize());  // the limit may be smaller than last time
  }

  // REQUIRES: cache_mu held (or single-threaded start-up).
  void Insert(const std::string& name, uint64_t size) {
    auto [it, fresh] = entries.try_emplace(name);
    if (!fresh) {
      by_age.erase({it->second.last_use, name});
      cache_total -= it->second.size;
    }
    it->second = Entry{size, ++clock};
    by_age.insert({it->second.last_use, name});
    cache_total += size;
  }

  std::optional<std::string> CacheGet(const std::string& url) {
    if (options.cache_dir.empty()) return std::nullopt;
    const std::string name = CacheName(url);
    {
      std::lock_guard<std::mutex> lock(cache_mu);
      if (!entries.count(name)) return std::nullopt;
    }
    fs::path path = fs::path(options.cache_dir) / name;
    auto bytes = ReadFile(path.string(), options.max_bytes);
    if (!bytes.ok()) return std::nullopt;  // evicted by another process: fetch again
    std::error_code ec;
    fs::last_write_time(path, fs::file_time_type::clock::now(), ec);  // LRU across processes
    std::lock_guard<std::mutex> lock(cache_mu);
    Insert(name, bytes->size());
    return *std::move(bytes);
  }

  void CachePut(const std::string& url, const std::string& bytes) {
    if (options.cache_dir.empty() || bytes.size() > options.cache_max_bytes) return;
    const std::string name = CacheName(url);
    fs::path path = fs::path(options.cache_dir) / name;
    std::error_code ec;
    fs::create_directories(path.parent_path(), ec);
    if (!WriteFileAtomic(path.string(), bytes).ok()) return;  // a cache is best effort
    std::vector<std::string> evict;
    {
      std::lock_guard<std::mutex> lock(cache_mu);
      Insert(name, bytes.size());
      evict = EvictOverSize();
    }
    RemoveFiles(evict);
  }

  // Drops the least recently used entries until the cache fits; returns them.
  // REQUIRES: cache_mu held (or single-threaded start-up).
  std::vector<std::string> EvictOverSize() {
    std::vector<std::string> evict;
    while (cache_total > options.cache_max_bytes && !by_age.empty()) {
      auto oldest = by_age.begin();
      std::string victim = oldest->second;
      by_age.erase(oldest);
      cache_total -= entries[victim].size;
      entries.erase(victim);
      evict.push_back(std::move(victim));
    }
    return evict;
  }

  void RemoveFiles(const std::vector<std::string>& names) {
    std::error_code ec;
    for (const std::string& name : names) fs::remove(fs::path(options.cache_dir) / name, ec);
  }

  std::unique_ptr<httplib::Client> AcquireClient(const std::string& origin) {
    {
      std::lock_guard<std::mutex> lock(clients_mu);
      auto& pool = idle[origin];
      if (!pool.empty()) {
        auto client = std::move(pool.back());
        pool.pop_back();
        return client;
      }
    }
    auto client = std::make_unique<httplib::Client>(origin);
    client->set_keep_alive(true);
    client->set_tcp_nodelay(true);
    client->set_follow_location(true);
    client->set_url_encode(false);  // catalog URLs come encoded
    client->set_connection_timeout(options.timeout_seconds, 0);
    client->set_read_timeout(options.timeout_seconds, 0);
    client->set_write_timeout(options.timeout_seconds, 0);
    return client;
  }
  void ReleaseClient(const std::string& origin, std::unique_ptr<httplib::Client> client) {
    std::lock_guard<std::mutex> lock(clients_mu);
    auto& pool = idle[origin];
    if (pool.size() < static_cast<size_t>(options.concurrency) + 2)
      pool.push_back(std::move(client));
  }

  Attempt FetchHttp(const std::string& url) {
    Attempt out;
    size_t scheme_end = url.find("://") + 3;
    size_t path_at = url.find('/', scheme_end);
    std::string origin = url.substr(0, path_at);
    std::string path = path_at == std::string::npos ? "/" : url.substr(path_at);
    if (origin.size() <= scheme_end) {
      out.bytes = absl::InvalidArgumentError(absl::StrCat("bad URL '", url, "': no host"));
      return out;
    }
    auto client = AcquireClient(origin);
    std::string body;
    int status = 0;
    bool too_big = false;
    auto result = client->Get(
        path,
        [&](const httplib::Response& res) {
          status = res.status;
          if (status == 200 && res.has_header("Content-Length") &&
              std::stoull(res.get_header_value("Content-Length")) > options.max_bytes) {
            too_big = true;
            return false;
          }
          return true;
        },
        [&](const char* data, size_t n) {
          if (status != 200) return true;  // an error body: read and drop
          if (body.size() + n > options.max_bytes) {
            too_big = true;
            return false;
          }
          body.append(data, n);
          return true;
        });
    if (too_big) {
      out.bytes = absl::ResourceExhaustedError(
          absl::StrCat("larger than the limit of ", options.max_bytes, " bytes"));
    } else if (!result) {
      out.bytes = absl::UnavailableError(absl::StrCat(
          result.error() == httplib::Error::Read ? "connection lost or timed out while reading"
                                                 : httplib::to_string(result.error())));
      out.retryable = true;
    } else if (status == 200) {
      out.bytes = std::move(body);
      ReleaseClient(origin, std::move(client));
      return out;
    } else {
      out.retryable = status >= 500 || status == 429;
      std::string message = absl::StrCat("HTTP ", status);
      out.bytes = status == 404   ? absl::NotFoundError(message)
                  : out.retryable ? absl::UnavailableError(message)
                                  : absl::FailedPreconditionError(message);
    }
    if (result) ReleaseClient(origin, std::move(client));  // a broken connection is dropped
    return out;
  }

  Attempt FetchFile(const std::string& url) {
    Attempt out;
    if (options.file_root.empty()) {
      out.bytes = absl::PermissionDeniedError("file:// URLs are not allowed here");
      return out;
    }
    fs::path path = fs::path(url.substr(7)).lexically_normal();
    fs::path root = fs::path(options.file_root).lexically_normal();
    std::string relative = path.lexically_relative(root).generic_string();
    if (!path.is_absolute() || relative.empty() || absl::StartsWith(relative, "..")) {
      out.bytes = absl::PermissionDeniedError(
          absl::StrCat(url, " is outside the allowed folder ", options.file_root));
      return out;
    }
    out.bytes = ReadFile(path.string(), options.max_bytes);
    return out;
  }

  Attempt FetchS3(const std::string& url) {
    Attempt out;
    std::string rest = url.substr(5);
    size_t slash = rest.find('/');
    if (slash == std::string::npos || slash + 1 == rest.size()) {
      out.bytes = absl::InvalidArgumentError(absl::StrCat("bad URL '", url, "': no object key"));
      return out;
    }
    Store* store = nullptr;
    {
      std::lock_guard<std::mutex> lock(s3_mu);
      auto& slot = buckets[rest.substr(0, slash)];
      if (!slot) {
        auto options_or = S3OptionsFromEnvironment();
        if (!options_or.ok()) {
          out.bytes = options_or.status();
          return out;
        }
        auto opened = OpenS3Store("s3://" + rest.substr(0, slash), *options_or);
        if (!opened.ok()) {
          out.bytes = opened.status();
          return out;
        }
        slot = std::move(*opened);
      }
      store = slot.get();
    }
    out.bytes = store->Get(rest.substr(slash + 1), options.max_bytes);
    out.retryable = out.bytes.status().code() == absl::StatusCode::kUnavailable;
    return out;
  }

  Attempt FetchOnce(const std::string& url) {
    if (absl::StartsWith(url, "http://") || absl::StartsWith(url, "https://"))
      return FetchHttp(url);
    if (absl::StartsWith(url, "file://")) return FetchFile(url);
    if (absl::StartsWith(url, "s3://")) return FetchS3(url);
    Attempt out;
    out.bytes = absl::InvalidArgumentError(
        absl::StrCat("unsupported URL '", url.substr(0, 200), "' (http, https, s3 or file)"));
    return out;
  }
};

Fetcher::Fetcher(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) { impl_->stats = &stats_; }
Fetcher::~Fetcher() = default;

absl::StatusOr<std::unique_ptr<Fetcher>> Fetcher::Create(const FetchOptions& options) {
  if (options.concurrency < 1 || options.concurrency > 256 || options.attempts < 1 ||
      options.attempts > 20 || options.timeout_seconds < 1) {
    return absl::InvalidArgumentError(
        "fetch options: concurrency 1..256, attempts 1..20 and a timeout of at least 1 s");
  }
  auto impl = std::make_unique<Impl>();
  impl->options = options;
  if (!options.cache_dir.empty()) {
    std::error_code ec;
    fs::create_directories(options.cache_dir, ec);
    if (ec) {
      return absl::InternalError(
          absl::StrCat("creating the fetch cache ", options.cache_dir, ": ", ec.message()));
    }
    impl->LoadCache();
  }
  return std::unique_ptr<Fetcher>(new Fetcher(std::move(impl)));
}

uint64_t Fetcher::cache_bytes() const {
  std::lock_guard<std::mutex> lock(impl_->cache_mu);
  return impl_->cache_total;
}

absl::StatusOr<std::string> Fetcher::Fetch(const std::string& url, bool* from_cache) {
  if (from_cache) *from_cache = false;
  if (!SafeUrlText(url)) {
    stats_.failures++;
    return absl::InvalidArgumentError("bad URL: empty, too long, or with spaces or control bytes");
  }
  // A local file is read where it is: copying it into the cache would cost a
  // write and an fsync per photo and could serve a stale copy of a file
  // that changed.
  const bool local = absl::StartsWith(url, "file://");
  if (auto cached = local ? std::nullopt : impl_->CacheGet(url)) {
    stats_.cache_hits++;
    if (from_cache) *from_cache = true;
    return *std::move(cached);
  }
  Attempt attempt;
  int delay_ms = impl_->options.backoff_ms;
  for (int i = 0; i < impl_->options.attempts; ++i) {
    if (i > 0) {
      stats_.retries++;
      std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms));
      delay_ms *= 2;
    }
    attempt = impl_->FetchOnce(url);
    if (attempt.bytes.ok() || !attempt.retryable) break;
  }
  if (!attempt.bytes.ok()) {
    stats_.failures++;
    if (attempt.retryable && impl_->options.attempts > 1) {
      return absl::Status(attempt.bytes.status().code(),
                          absl::StrCat(attempt.bytes.status().message(), " (after ",
                                       impl_->options.attempts, " attempts)"));
    }
    return attempt.bytes.status();
  }
  stats_.downloads++;
  stats_.bytes += static_cast<int64_t>(attempt.bytes->size());
  if (!local) impl_->CachePut(url, *attempt.bytes);
  return attempt.bytes;
}

void Fetcher::FetchAll(const std::vector<std::string>& urls,
                       const std::function<void(size_t, absl::StatusOr<std::string>)>& on_done,
                       const std::atomic<bool>* cancelled) {
  std::atomic<size_t> next{0};
  std::vector<std::thread> pool;
  const int threads = std::min<int>(impl_->options.concurrency, static_cast<int>(urls.size()));
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&] {
      for (size_t i = next++; i < urls.size(); i = next++) {
        if (cancelled && cancelled->load()) return;
        on_done(i, Fetch(urls[i]));
      }
    });
  }
  for (auto& t : pool) t.join();
}

}  // namespace photosearch
