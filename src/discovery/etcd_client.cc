#include "discovery/etcd_client.h"

#include <httplib.h>

#include <chrono>
#include <condition_variable>
#include <limits>
#include <thread>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "base/json_fields.h"
#include "base/status_macros.h"
#include "discovery/registration.h"
#include "nlohmann/json.hpp"

namespace photosearch {
namespace {

using Json = nlohmann::json;
using Clock = std::chrono::steady_clock;

// Deeper than any etcd answer (a watch event is 4 levels deep).
constexpr int kMaxAnswerDepth = 32;
// Error bodies (and keepalive answers) are small; keep this much of them.
constexpr size_t kMaxErrorBytes = 64 * 1024;
constexpr size_t kMaxMessageChars = 300;

absl::string_view Sv(std::string_view s) { return absl::string_view(s.data(), s.size()); }

std::string B64(std::string_view bytes) { return absl::Base64Escape(Sv(bytes)); }

// Text from etcd (or about keys) made safe and short for a message.
std::string Printable(std::string_view text, size_t max = kMaxMessageChars) {
  std::string out(text.substr(0, max));
  for (char& c : out) {
    if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) >= 0x7f) c = '?';
  }
  if (text.size() > max) out += "...";
  return out;
}

absl::Status Malformed(absl::string_view what) {
  return absl::InternalError(absl::StrCat("malformed answer: ", what));
}

// obj[key] as an int64: etcd's gateway writes int64s as JSON strings of
// decimal digits (and omits zeros); a JSON integer is accepted too.
// `fallback` when absent.
absl::StatusOr<int64_t> Int64Field(const Json& obj, const char* key, int64_t fallback) {
  if (!obj.is_object()) return Malformed(absl::StrCat("no object holding ", key));
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return fallback;
  if (it->is_string()) {
    const std::string& s = it->get_ref<const std::string&>();
    const size_t digits_from = !s.empty() && s[0] == '-' ? 1 : 0;
    bool ok = s.size() > digits_from && s.size() <= 20;
    for (size_t i = digits_from; ok && i < s.size(); ++i) ok = s[i] >= '0' && s[i] <= '9';
    int64_t value = 0;
    if (ok && absl::SimpleAtoi(s, &value)) return value;
    return Malformed(absl::StrCat(key, " is not an int64: \"", Printable(s, 40), "\""));
  }
  absl::StatusOr<int64_t> value = json_fields::IntValue(*it, std::numeric_limits<int64_t>::min(),
                                                        std::numeric_limits<int64_t>::max(), key);
  if (!value.ok()) return Malformed(value.status().message());
  return value;
}

// obj[key] (base64) decoded; "" when absent.
absl::StatusOr<std::string> BytesField(const Json& obj, const char* key) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return std::string();
  if (!it->is_string()) return Malformed(absl::StrCat(key, " is not a base64 string"));
  std::string out;
  if (!absl::Base64Unescape(it->get_ref<const std::string&>(), &out)) {
    return Malformed(absl::StrCat(key, " is not base64"));
  }
  return out;
}

// Parses an answer that must be a JSON object.
absl::StatusOr<Json> ParseObject(std::string_view text) {
  absl::StatusOr<Json> parsed = json_fields::Parse(text, kMaxAnswerDepth);
  if (!parsed.ok()) return Malformed(parsed.status().message());
  if (!parsed->is_object()) return Malformed("not a JSON object");
  return parsed;
}

// A gRPC code from etcd (0..16) as an absl code; kUnknown otherwise.
absl::StatusCode CodeOf(int64_t code) {
  if (code >= 1 && code <= 16) return static_cast<absl::StatusCode>(code);
  return absl::StatusCode::kUnknown;
}

// The error in a non-200 answer: grpc-gateway writes
// {"error":"...","message":"...","code":N} with N etcd's gRPC code.
absl::Status ErrorFromAnswer(int http_status, std::string_view body, const std::string& where) {
  absl::StatusCode code = absl::StatusCode::kUnknown;
  std::string message;
  absl::StatusOr<Json> j = json_fields::Parse(body, 8);
  if (j.ok() && j->is_object()) {
    absl::StatusOr<int64_t> grpc_code = Int64Field(*j, "code", 0);
    if (grpc_code.ok()) code = CodeOf(*grpc_code);
    for (const char* key : {"message", "error"}) {
      auto it = j->find(key);
      if (it != j->end() && it->is_string() && !it->get_ref<const std::string&>().empty()) {
        message = Printable(it->get_ref<const std::string&>());
        break;
      }
    }
  }
  if (code == absl::StatusCode::kUnknown) {
    if (http_status == 404) {
      code = absl::StatusCode::kNotFound;
    } else if (http_status == 400) {
      code = absl::StatusCode::kInvalidArgument;
    } else if (http_status >= 500 || http_status == 429 || http_status == 408) {
      code = absl::StatusCode::kUnavailable;
    }
  }
  if (message.empty()) message = Printable(body, 120);
  return absl::Status(code, absl::StrCat(where, "HTTP ", http_status, ": ", message));
}

// The error of a streamed answer: grpc-gateway writes
// {"error":{"grpc_code":N,"http_code":H,"message":"..."}}.
absl::Status StreamError(const Json& error, const std::string& where) {
  int64_t grpc_code = 0;
  std::string message = "error";
  if (error.is_object()) {
    absl::StatusOr<int64_t> code = Int64Field(error, "grpc_code", 0);
    if (code.ok()) grpc_code = *code;
    auto it = error.find("message");
    if (it != error.end() && it->is_string())
      message = Printable(it->get_ref<const std::string&>());
  } else if (error.is_string()) {
    message = Printable(error.get_ref<const std::string&>());
  }
  absl::StatusCode code = CodeOf(grpc_code);
  if (code == absl::StatusCode::kUnknown) code = absl::StatusCode::kUnavailable;
  return absl::Status(code, absl::StrCat(where, message));
}

absl::Status Annotated(const absl::Status& s, const std::string& where) {
  return absl::Status(s.code(), absl::StrCat(where, s.message()));
}

}  // namespace

std::string PrefixRangeEnd(std::string_view prefix) {
  std::string end(prefix);
  for (size_t i = end.size(); i-- > 0;) {
    if (static_cast<unsigned char>(end[i]) < 0xff) {
      end[i] = static_cast<char>(static_cast<unsigned char>(end[i]) + 1);
      end.resize(i + 1);
      return end;
    }
  }
  return std::string(1, '\0');
}

absl::Status ValidateEtcdEndpoint(std::string_view endpoint) {
  constexpr std::string_view kScheme = "http://";
  if (endpoint.substr(0, kScheme.size()) != kScheme) {
    return absl::InvalidArgumentError(
        absl::StrCat("etcd endpoint \"", Printable(endpoint, 80), "\" must be http://host:port"));
  }
  std::string_view host_port = endpoint.substr(kScheme.size());
  if (!host_port.empty() && host_port.back() == '/') host_port.remove_suffix(1);
  if (absl::Status s = ValidateHostPort(host_port); !s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("etcd endpoint \"", Printable(endpoint, 80),
                                                   "\" must be http://host:port: ", s.message()));
  }
  return absl::OkStatus();
}

EtcdClient::EtcdClient(std::string endpoint, int timeout_ms)
    : endpoint_(std::move(endpoint)), timeout_ms_(timeout_ms > 0 ? timeout_ms : 2000) {
  endpoint_status_ = ValidateEtcdEndpoint(endpoint_);
  if (!endpoint_status_.ok()) return;
  std::string_view host_port = std::string_view(endpoint_).substr(7);
  if (!host_port.empty() && host_port.back() == '/') host_port.remove_suffix(1);
  const size_t colon = host_port.rfind(':');
  std::string_view host = host_port.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[') host = host.substr(1, host.size() - 2);
  host_ = std::string(host);
  if (!absl::SimpleAtoi(Sv(host_port.substr(colon + 1)), &port_)) {
    endpoint_status_ = absl::InvalidArgumentError("etcd endpoint: bad port");
  }
}

EtcdClient::~EtcdClient() = default;

std::string EtcdClient::Where(const char* path) const {
  return absl::StrCat("etcd ", endpoint_, " ", path, ": ");
}

std::unique_ptr<httplib::Client> EtcdClient::NewHttpClient(int read_timeout_ms) const {
  auto client = std::make_unique<httplib::Client>(host_, port_);
  client->set_keep_alive(false);
  client->set_tcp_nodelay(true);
  client->set_connection_timeout(std::chrono::milliseconds(timeout_ms_));
  client->set_write_timeout(std::chrono::milliseconds(timeout_ms_));
  client->set_read_timeout(std::chrono::milliseconds(read_timeout_ms));
  return client;
}

bool EtcdClient::Enter(httplib::Client* client) {
  std::lock_guard<std::mutex> lock(mu_);
  if (shutdown_) return false;
  in_flight_.insert(client);
  return true;
}

void EtcdClient::Leave(httplib::Client* client) {
  std::lock_guard<std::mutex> lock(mu_);
  in_flight_.erase(client);
}

void EtcdClient::Shutdown() {
  std::lock_guard<std::mutex> lock(mu_);
  shutdown_ = true;
  // httplib's stop() only shuts the socket down when a request is in flight,
  // which is thread-safe; the call then fails at once.
  for (httplib::Client* client : in_flight_) client->stop();
}

absl::StatusOr<std::string> EtcdClient::Call(const char* path, const std::string& body,
                                             size_t max_bytes) {
  RETURN_IF_ERROR(endpoint_status_);
  std::unique_ptr<httplib::Client> client = NewHttpClient(timeout_ms_);
  if (!Enter(client.get())) return absl::CancelledError(Where(path) + "client shut down");
  httplib::Request req;
  req.method = "POST";
  req.path = path;
  req.body = body;
  req.set_header("Content-Type", "application/json");
  int status = 0;
  std::string answer;
  bool too_big = false;
  req.response_handler = [&](const httplib::Response& res) {
    status = res.status;
    return true;
  };
  req.content_receiver = [&](const char* data, size_t n, uint64_t, uint64_t) {
    const size_t limit = status == 200 ? max_bytes : kMaxErrorBytes;
    if (answer.size() + n > limit) {
      if (status == 200) {
        too_big = true;
        return false;
      }
      answer.append(data, limit - answer.size());  // enough of an error body
      return true;
    }
    answer.append(data, n);
    return true;
  };
  httplib::Response res;
  httplib::Error error = httplib::Error::Success;
  const bool sent = client->send(req, res, error);
  Leave(client.get());
  if (too_big) {
    return absl::ResourceExhaustedError(
        absl::StrCat(Where(path), "answer over ", max_bytes, " bytes"));
  }
  if (!sent) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (shutdown_) return absl::CancelledError(Where(path) + "client shut down");
    }
    // etcd's gateway ends an error answer with an HTTP trailer
    // (Grpc-Trailer-Content-Type) that httplib 0.11 takes for a read error;
    // the status and the body arrived all the same.
    if (status != 0 && status != 200 && !answer.empty()) {
      return ErrorFromAnswer(status, answer, Where(path));
    }
    return absl::UnavailableError(
        absl::StrCat(Where(path), "no answer (", httplib::to_string(error), ")"));
  }
  if (status != 200) return ErrorFromAnswer(status, answer, Where(path));
  return answer;
}

absl::StatusOr<int64_t> EtcdClient::GrantLease(int ttl_seconds) {
  constexpr char kPath[] = "/v3/lease/grant";
  if (ttl_seconds < 1) {
    return absl::InvalidArgumentError(absl::StrCat("lease TTL must be >= 1 s, not ", ttl_seconds));
  }
  ASSIGN_OR_RETURN(std::string answer,
                   Call(kPath, DumpJson(Json{{"TTL", ttl_seconds}}), kMaxErrorBytes));
  absl::StatusOr<Json> j = ParseObject(answer);
  if (!j.ok()) return Annotated(j.status(), Where(kPath));
  auto error = j->find("error");
  if (error != j->end() && error->is_string() && !error->get_ref<const std::string&>().empty()) {
    return absl::UnavailableError(
        absl::StrCat(Where(kPath), Printable(error->get_ref<const std::string&>())));
  }
  absl::StatusOr<int64_t> id = Int64Field(*j, "ID", 0);
  if (!id.ok()) return Annotated(id.status(), Where(kPath));
  if (*id <= 0) return Annotated(Malformed("no lease ID"), Where(kPath));
  return *id;
}

absl::StatusOr<int64_t> EtcdClient::KeepAlive(int64_t lease) {
  constexpr char kPath[] = "/v3/lease/keepalive";
  ASSIGN_OR_RETURN(std::string answer,
                   Call(kPath, DumpJson(Json{{"ID", std::to_string(lease)}}), kMaxErrorBytes));
  // A stream of one message: {"result":{...}} or {"error":{...}}, then "\n".
  std::string_view first(answer);
  first = first.substr(0, first.find('\n'));
  absl::StatusOr<Json> j = ParseObject(first);
  if (!j.ok()) return Annotated(j.status(), Where(kPath));
  if (auto error = j->find("error"); error != j->end()) return StreamError(*error, Where(kPath));
  auto result = j->find("result");
  if (result == j->end() || !result->is_object()) {
    return Annotated(Malformed("no result"), Where(kPath));
  }
  absl::StatusOr<int64_t> ttl = Int64Field(*result, "TTL", 0);
  if (!ttl.ok()) return Annotated(ttl.status(), Where(kPath));
  if (*ttl <= 0) {
    return absl::NotFoundError(
        absl::StrCat(Where(kPath), "lease ", lease, " not found (expired or revoked)"));
  }
  return *ttl;
}

absl::Status EtcdClient::Revoke(int64_t lease) {
  return Call("/v3/lease/revoke", DumpJson(Json{{"ID", std::to_string(lease)}}), kMaxErrorBytes)
      .status();
}

absl::Status EtcdClient::Put(std::string_view key, std::string_view value, int64_t lease) {
  Json request = {{"key", B64(key)}, {"value", B64(value)}};
  if (lease != 0) request["lease"] = std::to_string(lease);
  return Call("/v3/kv/put", DumpJson(request), kMaxErrorBytes).status();
}

absl::Status EtcdClient::Delete(std::string_view key) {
  return Call("/v3/kv/deleterange", DumpJson(Json{{"key", B64(key)}}), kMaxErrorBytes).status();
}

absl::StatusOr<RangeResult> EtcdClient::GetPrefix(std::string_view prefix) {
  constexpr char kPath[] = "/v3/kv/range";
  // An empty prefix is every key: key "\0" to range_end "\0".
  const std::string key = prefix.empty() ? std::string(1, '\0') : std::string(prefix);
  Json request = {{"key", B64(key)}, {"range_end", B64(PrefixRangeEnd(prefix))}};
  ASSIGN_OR_RETURN(std::string answer, Call(kPath, DumpJson(request), kMaxResponseBytes));
  absl::StatusOr<Json> j = ParseObject(answer);
  if (!j.ok()) return Annotated(j.status(), Where(kPath));
  answer.clear();
  answer.shrink_to_fit();
  RangeResult result;
  auto header = j->find("header");
  if (header == j->end() || !header->is_object()) {
    return Annotated(Malformed("no header"), Where(kPath));
  }
  absl::StatusOr<int64_t> revision = Int64Field(*header, "revision", 0);
  if (!revision.ok()) return Annotated(revision.status(), Where(kPath));
  if (*revision <= 0) return Annotated(Malformed("no header.revision"), Where(kPath));
  result.revision = *revision;
  auto kvs = j->find("kvs");
  if (kvs == j->end() || kvs->is_null()) return result;
  if (!kvs->is_array()) return Annotated(Malformed("kvs is not a list"), Where(kPath));
  result.kvs.reserve(kvs->size());
  for (const Json& item : *kvs) {
    if (!item.is_object()) return Annotated(Malformed("a kv is not an object"), Where(kPath));
    KeyValue kv;
    absl::StatusOr<std::string> k = BytesField(item, "key");
    if (!k.ok()) return Annotated(k.status(), Where(kPath));
    absl::StatusOr<std::string> v = BytesField(item, "value");
    if (!v.ok()) return Annotated(v.status(), Where(kPath));
    absl::StatusOr<int64_t> mod = Int64Field(item, "mod_revision", 0);
    if (!mod.ok()) return Annotated(mod.status(), Where(kPath));
    kv.key = *std::move(k);
    kv.value = *std::move(v);
    kv.mod_revision = *mod;
    result.kvs.push_back(std::move(kv));
  }
  return result;
}

absl::Status EtcdClient::Watch(std::string_view prefix, int64_t start_revision,
                               const std::function<bool(const WatchBatch&)>& on_batch,
                               const std::atomic<bool>* stop, int idle_timeout_ms) {
  constexpr char kPath[] = "/v3/watch";
  RETURN_IF_ERROR(endpoint_status_);
  if (start_revision < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("watch start revision must be >= 1, not ", start_revision));
  }
  if (idle_timeout_ms < 1) idle_timeout_ms = 1;
  const std::string where = Where(kPath);
  const std::string key = prefix.empty() ? std::string(1, '\0') : std::string(prefix);
  const Json request = {{"create_request",
                         {{"key", B64(key)},
                          {"range_end", B64(PrefixRangeEnd(prefix))},
                          {"start_revision", std::to_string(start_revision)},
                          {"progress_notify", true}}}};

  std::unique_ptr<httplib::Client> client = NewHttpClient(idle_timeout_ms);
  if (!Enter(client.get())) return absl::CancelledError(where + "client shut down");

  // Set by the receiver when a message decides how the watch ends.
  bool decided = false;
  absl::Status outcome;
  int status = 0;
  std::string buffer;      // bytes of the message being received
  std::string error_body;  // of a non-200 answer
  Clock::time_point last_data = Clock::now();

  // One message of the stream: true to read on.
  auto handle_message = [&](std::string_view line) -> bool {
    auto end_with = [&](absl::Status s) {
      decided = true;
      outcome = std::move(s);
      return false;
    };
    absl::StatusOr<Json> j = ParseObject(line);
    if (!j.ok()) return end_with(absl::UnavailableError(where + std::string(j.status().message())));
    if (auto error = j->find("error"); error != j->end()) {
      absl::Status s = StreamError(*error, where);
      return end_with(absl::UnavailableError(s.message()));
    }
    auto result = j->find("result");
    if (result == j->end() || !result->is_object()) {
      return end_with(absl::UnavailableError(where + "malformed answer: no result"));
    }
    int64_t header_revision = 0;
    if (auto header = result->find("header"); header != result->end()) {
      absl::StatusOr<int64_t> r = Int64Field(*header, "revision", 0);
      if (!r.ok())
        return end_with(absl::UnavailableError(where + std::string(r.status().message())));
      header_revision = *r;
    }
    absl::StatusOr<int64_t> compact = Int64Field(*result, "compact_revision", 0);
    if (!compact.ok()) {
      return end_with(absl::UnavailableError(where + std::string(compact.status().message())));
    }
    if (*compact > 0) {
      return end_with(absl::OutOfRangeError(
          absl::StrCat(where, "watch of \"", Printable(prefix, 120), "\" from revision ",
                       start_revision, ": compacted (compact_revision ", *compact, ")")));
    }
    auto canceled = result->find("canceled");
    if (canceled != result->end() && canceled->is_boolean() && canceled->get<bool>()) {
      std::string reason = "no reason given";
      if (auto r = result->find("cancel_reason"); r != result->end() && r->is_string()) {
        reason = Printable(r->get_ref<const std::string&>());
      }
      return end_with(absl::UnavailableError(absl::StrCat(where, "watch canceled: ", reason)));
    }
    WatchBatch batch;
    batch.revision = header_revision;
    auto events = result->find("events");
    if (events != result->end() && !events->is_null()) {
      if (!events->is_array()) {
        return end_with(absl::UnavailableError(where + "malformed answer: events is not a list"));
      }
      int64_t last = 0;
      for (const Json& e : *events) {
        if (!e.is_object()) {
          return end_with(absl::UnavailableError(where + "malformed answer: an event"));
        }
        WatchEvent event;
        if (auto type = e.find("type"); type != e.end() && !type->is_null()) {
          if (!type->is_string()) {
            return end_with(absl::UnavailableError(where + "malformed answer: event type"));
          }
          const std::string& t = type->get_ref<const std::string&>();
          if (t == "DELETE") {
            event.put = false;
          } else if (t != "PUT") {
            return end_with(absl::UnavailableError(
                absl::StrCat(where, "malformed answer: event type \"", Printable(t, 40), "\"")));
          }
        }
        auto kv = e.find("kv");
        if (kv == e.end() || !kv->is_object()) {
          return end_with(absl::UnavailableError(where + "malformed answer: an event has no kv"));
        }
        absl::StatusOr<std::string> k = BytesField(*kv, "key");
        absl::StatusOr<std::string> v = BytesField(*kv, "value");
        absl::StatusOr<int64_t> mod = Int64Field(*kv, "mod_revision", 0);
        for (const absl::Status& s : {k.status(), v.status(), mod.status()}) {
          if (!s.ok()) return end_with(absl::UnavailableError(where + std::string(s.message())));
        }
        event.key = *std::move(k);
        if (event.put) event.value = *std::move(v);
        event.revision = *mod;
        last = std::max(last, event.revision);
        batch.events.push_back(std::move(event));
      }
      if (!batch.events.empty()) batch.revision = last;
    }
    auto created = result->find("created");
    const bool is_created =
        created != result->end() && created->is_boolean() && created->get<bool>();
    if (is_created && batch.events.empty()) return true;
    if (!on_batch(batch)) return end_with(absl::OkStatus());
    return true;
  };

  httplib::Request req;
  req.method = "POST";
  req.path = kPath;
  req.body = DumpJson(request);
  req.set_header("Content-Type", "application/json");
  req.response_handler = [&](const httplib::Response& res) {
    status = res.status;
    return true;
  };
  req.content_receiver = [&](const char* data, size_t n, uint64_t, uint64_t) {
    last_data = Clock::now();
    if (status != 200) {
      error_body.append(data,
                        std::min(n, kMaxErrorBytes - std::min(kMaxErrorBytes, error_body.size())));
      return true;
    }
    try {
      size_t begin = 0;
      for (size_t i = 0; i < n; ++i) {
        if (data[i] != '\n') continue;
        buffer.append(data + begin, i - begin);
        begin = i + 1;
        const bool blank = absl::StripAsciiWhitespace(buffer).empty();
        const bool go_on = blank || handle_message(buffer);
        buffer.clear();
        if (!go_on) return false;
      }
      buffer.append(data + begin, n - begin);
      if (buffer.size() > kMaxWatchMessageBytes) {
        decided = true;
        outcome = absl::UnavailableError(
            absl::StrCat(where, "a watch message over ", kMaxWatchMessageBytes, " bytes"));
        return false;
      }
    } catch (const std::exception& e) {
      decided = true;
      outcome = absl::UnavailableError(absl::StrCat(where, "watch: ", Printable(e.what())));
      return false;
    }
    if (stop != nullptr && stop->load()) return false;
    return true;
  };

  // Polls `stop` while the stream is idle: httplib's stop() shuts the socket
  // down, which ends the blocked read at once.
  std::mutex monitor_mu;
  std::condition_variable monitor_cv;
  bool finished = false;
  std::thread monitor;
  if (stop != nullptr) {
    monitor = std::thread([&] {
      std::unique_lock<std::mutex> lock(monitor_mu);
      while (!finished) {
        if (stop->load()) client->stop();
        monitor_cv.wait_for(lock, std::chrono::milliseconds(25));
      }
    });
  }
  httplib::Response res;
  httplib::Error error = httplib::Error::Success;
  const bool completed = client->send(req, res, error);
  if (monitor.joinable()) {
    {
      std::lock_guard<std::mutex> lock(monitor_mu);
      finished = true;
    }
    monitor_cv.notify_all();
    monitor.join();
  }
  Leave(client.get());
  const auto idle = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - last_data);

  if (decided) return outcome;
  if (stop != nullptr && stop->load()) return absl::OkStatus();
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (shutdown_) return absl::CancelledError(where + "client shut down");
  }
  if (status != 0 && status != 200) return ErrorFromAnswer(status, error_body, where);
  if (!completed) {
    // httplib reports a read timeout as a read error: tell it by the time.
    if (error == httplib::Error::Read && idle.count() >= idle_timeout_ms * 9 / 10) {
      return absl::DeadlineExceededError(absl::StrCat(
          where, "watch idle for ", idle.count(), " ms (idle timeout ", idle_timeout_ms, " ms)"));
    }
    return absl::UnavailableError(
        absl::StrCat(where, "watch stream failed (", httplib::to_string(error), ")"));
  }
  return absl::UnavailableError(where + "watch stream ended");
}

}  // namespace photosearch
