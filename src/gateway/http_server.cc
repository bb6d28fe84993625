#include "gateway/http_server.h"

#include <httplib.h>

#include <filesystem>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "base/files.h"
#include "base/json_fields.h"
#include "base/stopwatch.h"
#include "gateway/search_json.h"
#include "gateway/search_request.h"
#include "gateway/web_assets.h"
#include "nlohmann/json.hpp"
#include "spdlog/spdlog.h"

namespace photosearch {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

void SendJson(httplib::Response& res, int status, const json& body) {
  res.status = status;
  res.set_content(DumpJson(body), "application/json");
}

void SendErrorJson(httplib::Response& res, int status, const std::string& code,
                   const std::string& message) {
  res.status = status;
  res.set_content(ErrorJson(code, message), "application/json");
}

void SendError(httplib::Response& res, const absl::Status& status) {
  SendErrorJson(res, HttpStatusFor(status), absl::StatusCodeToString(status.code()),
                std::string(status.message()));
}

// The route label of a request, from a fixed set (bounded metric cardinality).
std::string RouteOf(const std::string& path) {
  static const char* kRoutes[] = {"/v1/search", "/v1/shards", "/healthz", "/readyz", "/metrics"};
  for (const char* route : kRoutes) {
    if (path == route) return route;
  }
  if (absl::StartsWith(path, "/photos/")) return "/photos";
  for (const WebAsset& asset : WebAssets()) {
    if (path == asset.path) return "/web";
  }
  return "other";
}

std::string ContentTypeForPhoto(const std::string& path) {
  std::string ext = absl::AsciiStrToLower(fs::path(path).extension().string());
  if (ext == ".png") return "image/png";
  if (ext == ".webp") return "image/webp";
  return "image/jpeg";
}

}  // namespace

int HttpStatusFor(const absl::Status& status) {
  switch (status.code()) {
    case absl::StatusCode::kOk:
      return 200;
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kOutOfRange:
    case absl::StatusCode::kFailedPrecondition:
      return 400;
    case absl::StatusCode::kUnauthenticated:
      return 401;
    case absl::StatusCode::kPermissionDenied:
      return 403;
    case absl::StatusCode::kNotFound:
      return 404;
    case absl::StatusCode::kAlreadyExists:
    case absl::StatusCode::kAborted:
      return 409;
    case absl::StatusCode::kResourceExhausted:
      return 413;
    case absl::StatusCode::kCancelled:
      return 499;
    case absl::StatusCode::kUnimplemented:
      return 501;
    case absl::StatusCode::kUnavailable:
      return 503;
    case absl::StatusCode::kDeadlineExceeded:
      return 504;
    default:
      return 500;
  }
}

absl::StatusOr<std::string> ResolvePhotoPath(const std::string& root, const std::string& relative) {
  auto refuse = [&](const char* why) {
    return absl::NotFoundError(absl::StrCat("no photo '", relative.substr(0, 200), "': ", why));
  };
  if (root.empty()) return refuse("this server has no --photos folder");
  if (relative.empty() || relative.size() > 1024) return refuse("bad length");
  if (relative.find('\0') != std::string::npos || relative.find('\\') != std::string::npos ||
      relative.front() == '/') {
    return refuse("not a relative path");
  }
  for (absl::string_view segment : absl::StrSplit(relative, '/')) {
    if (segment.empty() || segment == "." || segment == "..") return refuse("not a plain path");
  }
  std::string ext = absl::AsciiStrToLower(fs::path(relative).extension().string());
  if (ext != ".jpg" && ext != ".jpeg" && ext != ".png" && ext != ".webp") {
    return refuse("not a JPEG, PNG or WebP file name");
  }
  std::error_code ec;
  fs::path canonical_root = fs::canonical(root, ec);
  if (ec) return refuse("photos folder is missing");
  fs::path resolved = fs::canonical(canonical_root / relative, ec);
  if (ec) return refuse("no such file");
  std::string prefix = canonical_root.string() + "/";
  if (!absl::StartsWith(resolved.string(), prefix)) return refuse("outside the photos folder");
  if (!fs::is_regular_file(resolved, ec)) return refuse("not a file");
  return resolved.string();
}

struct HttpServer::Impl {
  SearchService* service;
  MetricsRegistry* metrics;
  HttpServerOptions options;
  httplib::Server server;
  bool bound = false;

  // Times the handler and records its latency under its route.
  httplib::Server::Handler Timed(const std::string& route, httplib::Server::Handler handler) {
    Histogram* latency = metrics->GetHistogram("photosearch_http_request_duration_seconds",
                                               "HTTP handler time by route", {{"route", route}});
    return [latency, handler = std::move(handler)](const httplib::Request& req,
                                                   httplib::Response& res) {
      Stopwatch watch;
      handler(req, res);
      latency->Observe(watch.ElapsedSeconds());
    };
  }

  void HandleSearch(const httplib::Request& req, httplib::Response& res) {
    Stopwatch total;
    const std::string type = MediaTypeOf(req);
    if (SearchBodyOf(type) == SearchBody::kUnsupported) {
      return SendErrorJson(res, 415, "UNSUPPORTED_MEDIA_TYPE",
                           absl::StrCat("Content-Type '", type.substr(0, 100),
                                        "' is not image/jpeg, image/png, image/webp, "
                                        "multipart/form-data or application/json"));
    }
    auto request = ParseSearchHttpRequest(req, options.default_k, service->limits());
    if (!request.ok()) return SendError(res, request.status());
    auto response = service->Search(*request);
    if (!response.ok()) return SendError(res, response.status());
    res.status = 200;
    res.set_content(SearchResponseJson(*response, !options.photos_dir.empty(), total.ElapsedMs()),
                    "application/json");
  }

  void HandleShards(const httplib::Request& req, httplib::Response& res) {
    json shards_json = json::array();
    int64_t items = 0;
    for (const ShardState& s : service->backend().Shards()) {
      items += s.items;
      shards_json.push_back({{"name", s.id.Name()},
                             {"model", s.model},
                             {"window", s.id.window},
                             {"partition", s.id.partition},
                             {"partitions", s.id.partitions},
                             {"version", s.version},
                             {"items", s.items},
                             {"bytes", s.bytes},
                             {"index", s.index},
                             {"loaded_at", s.loaded_at},
                             {"servers", s.servers},
                             {"state", s.state}});
    }
    json body = {{"model", service->model().id},
                 {"dimension", service->model().dimension},
                 {"detection", service->can_detect()},
                 {"items", items},
                 {"shards", std::move(shards_json)},
                 {"errors", service->backend().Errors()}};
    if (req.has_param("from") || req.has_param("to")) {
      auto range = ParseTimeRange(req.has_param("from") ? req.get_param_value("from") : "",
                                  req.has_param("to") ? req.get_param_value("to") : "");
      if (!range.ok()) return SendError(res, range.status());
      body["plan"] = PlanJson(service->Plan(*range));
    }
    SendJson(res, 200, body);
  }

  void HandlePhoto(const httplib::Request& req, httplib::Response& res) {
    auto path = ResolvePhotoPath(options.photos_dir, req.matches[1].str());
    if (!path.ok()) return SendError(res, path.status());
    auto bytes = ReadFile(*path, 64ull << 20);
    if (!bytes.ok()) return SendError(res, bytes.status());
    res.set_header("Cache-Control", "public, max-age=3600");
    res.set_content(std::move(*bytes), ContentTypeForPhoto(*path).c_str());
  }

  void Install() {
    server.set_tcp_nodelay(true);  // else every response waits for the peer's delayed ACK
    server.set_payload_max_length(options.max_body_bytes);
    server.set_read_timeout(30, 0);
    server.set_write_timeout(30, 0);
    server.set_keep_alive_max_count(10000);

    server.Post("/v1/search", Timed("/v1/search", [this](const auto& req, auto& res) {
                  HandleSearch(req, res);
                }));
    server.Get("/v1/shards",
               Timed("/v1/shards", [this](const auto& req, auto& res) { HandleShards(req, res); }));
    server.Get("/healthz", [](const httplib::Request&, httplib::Response& res) {
      SendJson(res, 200, {{"status", "ok"}});
    });
    server.Get("/readyz", [this](const httplib::Request&, httplib::Response& res) {
      std::string note;
      absl::Status ready = service->backend().Ready(&note);
      json body = {{"ready", ready.ok()}, {"shards", service->backend().Available().size()}};
      if (!ready.ok()) body["reason"] = std::string(ready.message());
      if (!note.empty()) body["note"] = note;
      SendJson(res, ready.ok() ? 200 : 503, body);
    });
    server.Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
      res.set_content(metrics->RenderPrometheus(), "text/plain; version=0.0.4");
    });
    server.Get("/photos/(.+)",
               Timed("/photos", [this](const auto& req, auto& res) { HandlePhoto(req, res); }));
    for (const WebAsset& asset : WebAssets()) {
      server.Get(asset.path, [&asset](const httplib::Request&, httplib::Response& res) {
        res.set_header("Cache-Control", "no-cache");
        res.set_content(asset.body.data(), asset.body.size(), asset.content_type);
      });
    }
    // Errors httplib answers itself (404 no route, 413 body too large, 400
    // malformed) get the same JSON shape as ours.
    server.set_error_handler(httplib::Server::HandlerWithResponse(
        [this](const httplib::Request& req, httplib::Response& res) {
          if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
          std::string message;
          switch (res.status) {
            case 404:
              message = absl::StrCat("no route ", req.method, " ", req.path.substr(0, 200));
              break;
            case 413:
              message =
                  absl::StrCat("request body over the limit of ", options.max_body_bytes, " bytes");
              break;
            case 405:
              message = "method not allowed";
              break;
            default:
              message = absl::StrCat("request refused with HTTP status ", res.status);
          }
          std::string code = res.status == 404   ? "NOT_FOUND"
                             : res.status == 413 ? "RESOURCE_EXHAUSTED"
                                                 : "INVALID_ARGUMENT";
          SendErrorJson(res, res.status, code, message);
          return httplib::Server::HandlerResponse::Handled;
        }));
    server.set_exception_handler(
        [](const httplib::Request& req, httplib::Response& res, std::exception_ptr ep) {
          std::string what = "unknown";
          try {
            std::rethrow_exception(ep);
          } catch (const std::exception& e) {
            what = e.what();
          } catch (...) {
          }
          spdlog::error("handler for {} threw: {}", req.path, what);
          SendError(res, absl::InternalError("internal error"));
        });
    server.set_logger([this](const httplib::Request& req, const httplib::Response& res) {
      metrics
          ->GetCounter("photosearch_http_requests_total", "HTTP requests by route and status",
                       {{"route", RouteOf(req.path)}, {"code", std::to_string(res.status)}})
          ->Increment();
    });
  }
};

HttpServer::HttpServer(SearchService* service, MetricsRegistry* metrics,
                       HttpServerOptions options)
    : impl_(new Impl{service, metrics, std::move(options), {}, false}) {
  impl_->Install();
}

HttpServer::~HttpServer() { Stop(); }

absl::StatusOr<int> HttpServer::Bind() {
  int port = impl_->options.port;
  if (port == 0) {
    port = impl_->server.bind_to_any_port(impl_->options.host);
  } else if (!impl_->server.bind_to_port(impl_->options.host, port)) {
    port = -1;
  }
  if (port <= 0) {
    return absl::UnavailableError(absl::StrCat("cannot listen on ", impl_->options.host, ":",
                                               impl_->options.port,
                                               " (in use, or not an address of this machine)"));
  }
  impl_->bound = true;
  return port;
}

absl::Status HttpServer::Serve() {
  if (!impl_->bound) return absl::FailedPreconditionError("Serve before Bind");
  if (!impl_->server.listen_after_bind()) {
    return absl::InternalError("HTTP listener stopped with an error");
  }
  return absl::OkStatus();
}

void HttpServer::Stop() { impl_->server.stop(); }

}  // namespace photosearch
