// RedisClient: a blocking connection to one Redis server through hiredis (C),
// for the ingest's stream commands. Replies are copied into RedisReply, so no
// hiredis type leaves redis_client.cc.
//
// A URL is redis://[[user]:password@]host[:port][/db]; AUTH and SELECT are
// sent on connect. The password never appears in messages (Redacted()).
//
// Errors: a connection or protocol failure is kUnavailable and breaks the
// client (broken() is then true: connect again); an error reply from the
// server (-ERR, -BUSYGROUP, -NOGROUP) is kFailedPrecondition with its text.
//
// Thread-safety: not thread-safe; one thread per client.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

struct redisContext;

namespace photosearch {

struct RedisReply {
  enum class Type { kNil, kString, kInteger, kArray, kStatus, kError };
  Type type = Type::kNil;
  std::string str;  // kString, kStatus, kError
  int64_t integer = 0;
  std::vector<RedisReply> elements;  // kArray

  bool is_nil() const { return type == Type::kNil; }
  bool is_array() const { return type == Type::kArray; }
  bool is_string() const { return type == Type::kString || type == Type::kStatus; }
};

struct RedisAddress {
  std::string host = "127.0.0.1";
  int port = 6379;
  std::string user, password;
  int db = 0;
  // "redis://host:port/db" with any password shown as "***".
  std::string Redacted() const;
};

// kInvalidArgument for anything but the form above (port 1..65535, db 0..15).
absl::StatusOr<RedisAddress> ParseRedisUrl(const std::string& url);

class RedisClient {
 public:
  // Connects within `timeout_ms`; every command then waits at most
  // `timeout_ms` plus the BLOCK time it asks for (see Command).
  static absl::StatusOr<std::unique_ptr<RedisClient>> Connect(const RedisAddress& address,
                                                              int timeout_ms);
  ~RedisClient();
  RedisClient(const RedisClient&) = delete;
  RedisClient& operator=(const RedisClient&) = delete;

  // Sends one command; `block_ms` is how long the server may hold it (XREAD
  // BLOCK), added to the timeout.
  absl::StatusOr<RedisReply> Command(const std::vector<std::string>& args, int block_ms = 0);

  bool broken() const { return broken_; }

 private:
  RedisClient(redisContext* context, int timeout_ms) : context_(context), timeout_ms_(timeout_ms) {}

  redisContext* context_;
  const int timeout_ms_;
  bool broken_ = false;
};

}  // namespace photosearch
