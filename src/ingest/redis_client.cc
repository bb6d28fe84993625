#include "ingest/redis_client.h"

#include <hiredis.h>
#include <sys/time.h>

#include <regex>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"

namespace photosearch {
namespace {

// Replies nested deeper than this are refused (stream replies are 4 deep).
constexpr int kMaxDepth = 8;

timeval Timeval(int ms) {
  timeval tv{};
  tv.tv_sec = ms / 1000;
  tv.tv_usec = (ms % 1000) * 1000;
  return tv;
}

absl::StatusOr<RedisReply> Copy(const redisReply* r, int depth) {
  if (depth > kMaxDepth) return absl::DataLossError("redis reply nested too deep");
  RedisReply out;
  switch (r->type) {
    case REDIS_REPLY_STRING:
      out.type = RedisReply::Type::kString;
      out.str.assign(r->str, r->len);
      break;
    case REDIS_REPLY_STATUS:
      out.type = RedisReply::Type::kStatus;
      out.str.assign(r->str, r->len);
      break;
    case REDIS_REPLY_ERROR:
      out.type = RedisReply::Type::kError;
      out.str.assign(r->str, r->len);
      break;
    case REDIS_REPLY_INTEGER:
      out.type = RedisReply::Type::kInteger;
      out.integer = r->integer;
      break;
    case REDIS_REPLY_ARRAY:
      out.type = RedisReply::Type::kArray;
      out.elements.reserve(r->elements);
      for (size_t i = 0; i < r->elements; ++i) {
        ASSIGN_OR_RETURN(RedisReply element, Copy(r->element[i], depth + 1));
        out.elements.push_back(std::move(element));
      }
      break;
    case REDIS_REPLY_NIL:
    default:
      out.type = RedisReply::Type::kNil;
  }
  return out;
}

}  // namespace

std::string RedisAddress::Redacted() const {
  return absl::StrCat("redis://", user.empty() && password.empty() ? "" : user,
                      password.empty() ? "" : ":***", user.empty() && password.empty() ? "" : "@",
                      host, ":", port, db == 0 ? "" : absl::StrCat("/", db));
}

absl::StatusOr<RedisAddress> ParseRedisUrl(const std::string& url) {
  static const std::regex kUrl(
      R"(redis://(?:([^:@/]*)(?::([^@/]*))?@)?([A-Za-z0-9.\-_]{1,253}|\[[0-9A-Fa-f:.]{2,45}\])(?::(\d{1,5}))?(?:/(\d{1,2}))?/?)");
  std::smatch m;
  if (url.size() > 1024 || !std::regex_match(url, m, kUrl)) {
    return absl::InvalidArgumentError(
        "--redis must be redis://[[user]:password@]host[:port][/db], e.g. redis://127.0.0.1:6379");
  }
  RedisAddress a;
  a.user = m[1];
  a.password = m[2];
  a.host = m[3];
  if (a.host.front() == '[') a.host = a.host.substr(1, a.host.size() - 2);
  if (m[4].matched) a.port = std::stoi(m[4]);
  if (m[5].matched) a.db = std::stoi(m[5]);
  if (a.port < 1 || a.port > 65535 || a.db > 15) {
    return absl::InvalidArgumentError(
        absl::StrCat("--redis ", a.Redacted(), ": port must be 1..65535 and db 0..15"));
  }
  return a;
}

absl::StatusOr<std::unique_ptr<RedisClient>> RedisClient::Connect(const RedisAddress& address,
                                                                  int timeout_ms) {
  redisContext* context = redisConnectWithTimeout(address.host.c_str(), address.port, Timeval(timeout_ms));
  if (context == nullptr || context->err) {
    std::string why = context ? context->errstr : "out of memory";
    if (context) redisFree(context);
    return absl::UnavailableError(absl::StrCat("redis ", address.Redacted(), ": ", why));
  }
  redisSetTimeout(context, Timeval(timeout_ms));
  redisEnableKeepAlive(context);
  std::unique_ptr<RedisClient> client(new RedisClient(context, timeout_ms));
  if (!address.password.empty()) {
    std::vector<std::string> auth = {"AUTH"};
    if (!address.user.empty()) auth.push_back(address.user);
    auth.push_back(address.password);
    absl::StatusOr<RedisReply> reply = client->Command(auth);
    if (!reply.ok()) {
      return absl::PermissionDeniedError(
          absl::StrCat("redis ", address.Redacted(), ": AUTH failed: ", reply.status().message()));
    }
  }
  if (address.db != 0) {
    absl::StatusOr<RedisReply> reply = client->Command({"SELECT", std::to_string(address.db)});
    if (!reply.ok()) return Annotate(reply.status(), absl::StrCat("redis ", address.Redacted()));
  }
  return client;
}

RedisClient::~RedisClient() { redisFree(context_); }

absl::StatusOr<RedisReply> RedisClient::Command(const std::vector<std::string>& args, int block_ms) {
  if (broken_) return absl::UnavailableError("redis connection is broken; reconnect");
  std::vector<const char*> argv;
  std::vector<size_t> lengths;
  for (const std::string& a : args) {
    argv.push_back(a.data());
    lengths.push_back(a.size());
  }
  redisSetTimeout(context_, Timeval(timeout_ms_ + block_ms));
  auto* reply = static_cast<redisReply*>(
      redisCommandArgv(context_, static_cast<int>(args.size()), argv.data(), lengths.data()));
  if (reply == nullptr) {
    broken_ = true;  // hiredis cannot use this context again
    return absl::UnavailableError(absl::StrCat("redis ", args.empty() ? "" : args[0], ": ",
                                               context_->err ? context_->errstr : "no reply"));
  }
  absl::StatusOr<RedisReply> copied = Copy(reply, 0);
  freeReplyObject(reply);
  if (!copied.ok()) {
    broken_ = true;
    return copied.status();
  }
  if (copied->type == RedisReply::Type::kError) {
    return absl::FailedPreconditionError(absl::StrCat("redis ", args[0], ": ", copied->str.substr(0, 512)));
  }
  return copied;
}

}  // namespace photosearch
