#include "artifact/s3_store.h"

#include <httplib.h>

#include <chrono>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <thread>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "artifact/s3_xml.h"
#include "base/sha256.h"
#include "base/status_macros.h"

namespace photosearch {
namespace {

namespace fs = std::filesystem;

std::string Env(const char* name) {
  const char* value = std::getenv(name);
  return value ? value : "";
}

std::string AmzDateNow() {
  std::time_t now = std::time(nullptr);
  std::tm utc;
  gmtime_r(&now, &utc);
  char buffer[32];
  std::strftime(buffer, sizeof(buffer), "%Y%m%dT%H%M%SZ", &utc);
  return buffer;
}

struct Reply {
  int status = 0;
  std::string body;
  std::string error;  // transport error, when status == 0
};

class S3Store : public Store {
 public:
  S3Store(S3Options options, std::string bucket, std::string prefix)
      : options_(std::move(options)), bucket_(std::move(bucket)), prefix_(std::move(prefix)) {
    std::string rest = options_.endpoint.substr(options_.endpoint.find("://") + 3);
    host_ = options_.path_style ? rest : absl::StrCat(bucket_, ".", rest);
    base_url_ =
        options_.path_style
            ? options_.endpoint
            : absl::StrCat(options_.endpoint.substr(0, options_.endpoint.find("://") + 3), host_);
  }

  std::string url() const override {
    return prefix_.empty() ? absl::StrCat("s3://", bucket_)
                           : absl::StrCat("s3://", bucket_, "/", prefix_);
  }

  absl::Status Put(const std::string& key, std::string_view data) override {
    RETURN_IF_ERROR(ValidateKey(key));
    Reply reply = Send("PUT", key, {}, {}, data);
    return StatusOf(reply, "writing", key);
  }

  absl::Status PutFile(const std::string& key, const std::string& local_path) override {
    RETURN_IF_ERROR(ValidateKey(key));
    uint64_t size = 0;
    std::string sha = Sha256FileHex(local_path, &size);
    if (sha.empty()) return absl::NotFoundError(absl::StrCat("cannot read ", local_path));
    Reply reply = SendFile(key, local_path, size, sha);
    return StatusOf(reply, "uploading", key);
  }

  absl::Status PutIfAbsent(const std::string& key, std::string_view data) override {
    RETURN_IF_ERROR(ValidateKey(key));
    Reply head = Send("HEAD", key, {}, {}, {});
    if (head.status == 200)
      return absl::AlreadyExistsError(absl::StrCat(url(), "/", key, " exists"));
    if (head.status != 404) return StatusOf(head, "checking", key);
    Reply reply = Send("PUT", key, {}, {{"If-None-Match", "*"}}, data);
    if (reply.status == 412 || reply.status == 409) {
      return absl::AlreadyExistsError(absl::StrCat(url(), "/", key, " exists"));
    }
    return StatusOf(reply, "creating", key);
  }

  absl::StatusOr<std::string> Get(const std::string& key, uint64_t max_bytes) override {
    RETURN_IF_ERROR(ValidateKey(key));
    std::string body;
    bool too_big = false;
    Reply reply = Send(
        "GET", key, {}, {}, {},
        [&](const char* data, size_t n) {
          if (body.size() + n > max_bytes) {
            too_big = true;
            return false;
          }
          body.append(data, n);
          return true;
        },
        [&] { body.clear(); });
    if (too_big) {
      return absl::ResourceExhaustedError(
          absl::StrCat(url(), "/", key, " is larger than ", max_bytes, " bytes"));
    }
    RETURN_IF_ERROR(StatusOf(reply, "reading", key));
    return body;
  }

  absl::StatusOr<std::string> GetFile(const std::string& key,
                                      const std::string& scratch_dir) override {
    RETURN_IF_ERROR(ValidateKey(key));
    fs::path target = fs::path(scratch_dir) / key;  // safe: ValidateKey allows no ".."
    std::error_code ec;
    fs::create_directories(target.parent_path(), ec);
    if (ec)
      return absl::InternalError(
          absl::StrCat("creating ", target.parent_path().string(), ": ", ec.message()));
    fs::path tmp = target;
    tmp += absl::StrCat(".part.", std::hash<std::thread::id>()(std::this_thread::get_id()));
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) return absl::InternalError(absl::StrCat("cannot write ", tmp.string()));
    Reply reply = Send(
        "GET", key, {}, {}, {},
        [&](const char* data, size_t n) {
          out.write(data, static_cast<std::streamsize>(n));
          return static_cast<bool>(out);
        },
        [&] {  // a retried attempt starts the file again
          out.close();
          out.open(tmp, std::ios::binary | std::ios::trunc);
        });
    out.close();
    if (absl::Status s = StatusOf(reply, "downloading", key); !s.ok() || !out) {
      fs::remove(tmp, ec);
      return s.ok() ? absl::InternalError(absl::StrCat("writing ", tmp.string())) : s;
    }
    fs::rename(tmp, target, ec);
    if (ec)
      return absl::InternalError(
          absl::StrCat("renaming into ", target.string(), ": ", ec.message()));
    return target.string();
  }

  absl::StatusOr<std::vector<std::string>> List(const std::string& prefix) override {
    if (!prefix.empty()) {
      RETURN_IF_ERROR(
          ValidateKey(prefix.back() == '/' ? prefix.substr(0, prefix.size() - 1) : prefix));
    }
    const std::string full_prefix = prefix_.empty() ? prefix : absl::StrCat(prefix_, "/", prefix);
    std::vector<std::string> keys;
    // Pages continue with start-after (the last key seen) rather than
    // continuation tokens: both are ListObjectsV2, and s3rver's tokens need
    // a cipher that current OpenSSL no longer ships.
    std::string start_after;
    for (int page = 0; page < 1000000; ++page) {
      std::vector<std::pair<std::string, std::string>> query = {{"list-type", "2"},
                                                                {"prefix", full_prefix}};
      if (!start_after.empty()) query.emplace_back("start-after", start_after);
      Reply reply = SendRaw("GET", BucketPath(), query, {}, {}, nullptr, nullptr);
      RETURN_IF_ERROR(StatusOf(reply, "listing", prefix));
      S3ListPage listed = ParseListObjectsPage(reply.body);
      for (const std::string& key : listed.keys) {
        std::string relative = key;
        if (!prefix_.empty()) {
          if (!absl::StartsWith(relative, prefix_ + "/")) continue;
          relative = relative.substr(prefix_.size() + 1);
        }
        keys.push_back(std::move(relative));
      }
      if (!listed.truncated || listed.keys.empty()) break;
      // Keys come in order: a page that does not move past the last one would
      // make a broken server loop us forever.
      if (listed.keys.back() <= start_after) {
        return absl::DataLossError(absl::StrCat("listing ", url(), "/", prefix,
                                                ": the server sent a truncated page that does "
                                                "not advance past '",
                                                start_after.substr(0, 200), "'"));
      }
      start_after = listed.keys.back();
    }
    std::sort(keys.begin(), keys.end());
    return keys;
  }

  absl::Status Delete(const std::string& key) override {
    RETURN_IF_ERROR(ValidateKey(key));
    Reply reply = Send("DELETE", key, {}, {}, {});
    if (reply.status == 404) return absl::OkStatus();
    return StatusOf(reply, "deleting", key);
  }

 private:
  using Receiver = std::function<bool(const char*, size_t)>;
  using Restart = std::function<void()>;

  std::string BucketPath() const { return options_.path_style ? absl::StrCat("/", bucket_) : "/"; }
  std::string ObjectPath(const std::string& key) const {
    std::string object = prefix_.empty() ? key : absl::StrCat(prefix_, "/", key);
    return options_.path_style ? absl::StrCat("/", bucket_, "/", object)
                               : absl::StrCat("/", object);
  }

  Reply Send(const std::string& method, const std::string& key,
             std::vector<std::pair<std::string, std::string>> query,
             std::vector<std::pair<std::string, std::string>> headers, std::string_view body,
             Receiver receiver = nullptr, Restart restart = nullptr) {
    return SendRaw(method, ObjectPath(key), std::move(query), std::move(headers), body,
                   std::move(receiver), std::move(restart));
  }

  // One signed request, retried with backoff on 5xx, 429 and transport errors.
  Reply SendRaw(const std::string& method, const std::string& path,
                const std::vector<std::pair<std::string, std::string>>& query,
                const std::vector<std::pair<std::string, std::string>>& headers,
                std::string_view body, Receiver receiver, Restart restart) {
    const std::string payload_sha = Sha256Hex(body);
    return WithRetries(restart, [&] {
      Reply reply;
      SigV4Request signing{method, path, query, headers, payload_sha};
      signing.headers.emplace_back("host", host_);
      std::string authorization =
          SignRequest(&signing, options_.credentials, options_.region, "s3", AmzDateNow());
      httplib::Request req;
      req.method = method;
      req.path = UriEncode(path, true);
      std::string query_string;
      for (const auto& [k, v] : query) {
        absl::StrAppend(&query_string, query_string.empty() ? "?" : "&", UriEncode(k, false), "=",
                        UriEncode(v, false));
      }
      req.path += query_string;
      for (const auto& [name, value] : signing.headers) req.headers.emplace(name, value);
      req.headers.emplace("Authorization", authorization);
      if (method == "PUT") {
        req.body = std::string(body);
        req.headers.emplace("Content-Type", "application/octet-stream");
      }
      std::string error_body;
      if (receiver) {
        req.response_handler = [&](const httplib::Response& res) {
          reply.status = res.status;
          return true;
        };
        req.content_receiver = [&](const char* data, size_t n, uint64_t, uint64_t) {
          if (reply.status >= 200 && reply.status < 300) return receiver(data, n);
          error_body.append(data, std::min<size_t>(n, 4096));
          return true;
        };
      }
      Exchange(req, &reply);
      if (receiver && reply.status >= 300) reply.body = error_body;
      return reply;
    });
  }

  // Runs `attempt` until it gets an answer that is not 5xx or 429 (or no
  // answer), at most options_.attempts times, backing off 100 ms, 400 ms, ...;
  // `restart` (optional) runs before each retry.
  template <typename Attempt>
  Reply WithRetries(const Restart& restart, Attempt attempt) {
    Reply reply;
    for (int i = 0; i < options_.attempts; ++i) {
      if (i > 0) {
        std::this_thread::sleep_for(std::chrono::milliseconds(100 << (2 * (i - 1))));
        if (restart) restart();
      }
      reply = attempt();
      if (reply.status != 0 && reply.status < 500 && reply.status != 429) break;
    }
    return reply;
  }

  Reply SendFile(const std::string& key, const std::string& local_path, uint64_t size,
                 const std::string& sha) {
    return WithRetries(nullptr, [&] {
      const std::string path = ObjectPath(key);
      SigV4Request signing{"PUT", path, {}, {{"host", host_}}, sha};
      std::string authorization =
          SignRequest(&signing, options_.credentials, options_.region, "s3", AmzDateNow());
      httplib::Headers headers;
      for (const auto& [name, value] : signing.headers) headers.emplace(name, value);
      headers.emplace("Authorization", authorization);
      auto file = std::make_shared<std::ifstream>(local_path, std::ios::binary);
      if (!*file) return Reply{0, "", "cannot open " + local_path};
      auto client = Acquire();
      auto result = client->Put(
          UriEncode(path, true), headers, size,
          [file](size_t offset, size_t length, httplib::DataSink& sink) {
            std::vector<char> chunk(std::min<size_t>(length, 1 << 20));
            file->seekg(static_cast<std::streamoff>(offset));
            file->read(chunk.data(), static_cast<std::streamsize>(chunk.size()));
            std::streamsize n = file->gcount();
            if (n <= 0) return false;
            sink.write(chunk.data(), static_cast<size_t>(n));
            return true;
          },
          "application/octet-stream");
      Reply reply;
      if (result) {
        reply.status = result->status;
        reply.body = result->body;
      } else {
        reply.error = httplib::to_string(result.error());
      }
      Release(std::move(client));
      return reply;
    });
  }

  void Exchange(httplib::Request& req, Reply* reply) {
    auto client = Acquire();
    httplib::Response res;
    httplib::Error error = httplib::Error::Success;
    if (client->send(req, res, error)) {
      reply->status = res.status;
      if (!req.content_receiver) reply->body = std::move(res.body);
    } else {
      // An aborted receiver (too big, disk full) also ends here; keep its status.
      if (reply->status == 0) reply->error = httplib::to_string(error);
    }
    Release(std::move(client));
  }

  absl::Status StatusOf(const Reply& reply, const char* what, const std::string& key) const {
    if (reply.status >= 200 && reply.status < 300) return absl::OkStatus();
    std::string where = absl::StrCat(what, " ", url(), "/", key);
    if (reply.status == 0) {
      return absl::UnavailableError(
          absl::StrCat(where, ": cannot reach ", options_.endpoint, " (", reply.error, ")"));
    }
    S3ErrorBody error = ParseS3Error(reply.body);
    std::string detail = absl::StrCat(
        where, ": HTTP ", reply.status, error.code.empty() ? "" : absl::StrCat(" ", error.code),
        error.message.empty() ? "" : absl::StrCat(": ", error.message));
    switch (reply.status) {
      case 404:
        return absl::NotFoundError(detail);
      case 401:
      case 403:
        return absl::PermissionDeniedError(detail);
      case 412:
      case 409:
        return absl::AlreadyExistsError(detail);
      case 400:
        return absl::InvalidArgumentError(detail);
      default:
        return reply.status >= 500 || reply.status == 429 ? absl::UnavailableError(detail)
                                                          : absl::InternalError(detail);
    }
  }

  std::unique_ptr<httplib::Client> Acquire() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (!idle_.empty()) {
        auto client = std::move(idle_.back());
        idle_.pop_back();
        return client;
      }
    }
    auto client = std::make_unique<httplib::Client>(base_url_);
    client->set_url_encode(false);  // paths are encoded here, as signed
    client->set_keep_alive(true);
    client->set_tcp_nodelay(true);
    client->set_connection_timeout(options_.timeout_seconds, 0);
    client->set_read_timeout(options_.timeout_seconds, 0);
    client->set_write_timeout(options_.timeout_seconds, 0);
    return client;
  }
  void Release(std::unique_ptr<httplib::Client> client) {
    std::lock_guard<std::mutex> lock(mu_);
    if (idle_.size() < 16) idle_.push_back(std::move(client));
  }

  // Constant after construction.
  const S3Options options_;
  const std::string bucket_;
  const std::string prefix_;  // without slashes at either end
  std::string host_;
  std::string base_url_;

  std::mutex mu_;
  std::vector<std::unique_ptr<httplib::Client>> idle_;  // guarded by mu_
};

}  // namespace

absl::StatusOr<S3Options> S3OptionsFromEnvironment() {
  S3Options options;
  options.credentials.access_key_id = Env("AWS_ACCESS_KEY_ID");
  options.credentials.secret_access_key = Env("AWS_SECRET_ACCESS_KEY");
  options.credentials.session_token = Env("AWS_SESSION_TOKEN");
  if (options.credentials.access_key_id.empty() || options.credentials.secret_access_key.empty()) {
    return absl::FailedPreconditionError(
        "S3 needs credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY");
  }
  std::string region = Env("AWS_REGION");
  if (region.empty()) region = Env("AWS_DEFAULT_REGION");
  if (!region.empty()) options.region = region;
  options.endpoint = Env("AWS_ENDPOINT_URL_S3");
  if (options.endpoint.empty()) options.endpoint = Env("AWS_ENDPOINT_URL");
  const bool custom_endpoint = !options.endpoint.empty();
  if (!custom_endpoint)
    options.endpoint = absl::StrCat("https://s3.", options.region, ".amazonaws.com");
  while (!options.endpoint.empty() && options.endpoint.back() == '/') options.endpoint.pop_back();
  if (!absl::StartsWith(options.endpoint, "http://") &&
      !absl::StartsWith(options.endpoint, "https://")) {
    return absl::InvalidArgumentError(
        absl::StrCat("S3 endpoint '", options.endpoint, "' must start with http:// or https://"));
  }
  std::string path_style = absl::AsciiStrToLower(Env("PHOTOSEARCH_S3_PATH_STYLE"));
  options.path_style =
      path_style.empty() ? custom_endpoint : (path_style == "1" || path_style == "true");
  return options;
}

absl::StatusOr<std::unique_ptr<Store>> OpenS3Store(const std::string& url,
                                                   const S3Options& options) {
  if (!absl::StartsWith(url, "s3://")) {
    return absl::InvalidArgumentError(absl::StrCat("'", url, "' is not an s3:// URL"));
  }
  const std::string rest = url.substr(5);
  std::string bucket(rest.substr(0, rest.find('/')));
  std::string prefix(rest.find('/') == std::string_view::npos ? ""
                                                              : rest.substr(rest.find('/') + 1));
  while (!prefix.empty() && prefix.back() == '/') prefix.pop_back();
  static const auto valid_bucket = [](const std::string& b) {
    if (b.size() < 3 || b.size() > 63) return false;
    for (char c : b) {
      if (!(absl::ascii_islower(c) || absl::ascii_isdigit(c) || c == '-' || c == '.')) return false;
    }
    return true;
  };
  if (!valid_bucket(bucket)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "'", url, "': the bucket must be 3-63 lower-case letters, digits, '-' or '.'"));
  }
  if (!prefix.empty()) RETURN_IF_ERROR(ValidateKey(prefix));
  return std::unique_ptr<Store>(new S3Store(options, std::move(bucket), std::move(prefix)));
}

}  // namespace photosearch
