// The REST edge of `photosearch serve`: thin handlers over SearchService that
// parse the request, call the domain code and map Status to HTTP.
//
//   POST /v1/search?k=10[&ef=64][&from=&to=]   raw image body (Content-Type image/jpeg|png|webp),
//                                  multipart form field "image", or JSON
//                                  {"vector": [...], "model": "<id>", "k": 10}
//   GET  /v1/shards[?from=&to=]  /healthz  /readyz  /metrics (Prometheus text)
//   GET  /  (the web page)         GET /photos/<item id>  (from --photos)
//
// Every error is a 4xx/5xx with {"error": {"code": "...", "message": "..."}}.
//
// Thread-safety: Serve runs the listener and a pool of handler threads; Stop
// may be called from any thread.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "base/metrics.h"
#include "gateway/search_service.h"

namespace photosearch {

struct HttpServerOptions {
  std::string host = "127.0.0.1";
  int port = 8080;                        // 0 picks a free port (see Bind)
  std::string photos_dir;                 // served under /photos/ when set
  uint64_t max_body_bytes = 21ull << 20;  // a 20 MiB photo plus multipart framing
  int default_k = 10;
};

class HttpServer {
 public:
  // REQUIRES: service and metrics outlive the server.
  HttpServer(SearchService* service, MetricsRegistry* metrics,
             HttpServerOptions options);
  ~HttpServer();

  // Binds the listening socket; returns the port (useful with port 0).
  absl::StatusOr<int> Bind();
  // Serves until Stop(). REQUIRES: Bind() succeeded.
  absl::Status Serve();
  void Stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Maps a canonical status code to the HTTP status sent for it.
int HttpStatusFor(const absl::Status& status);

// Resolves `relative` (an item id) to a photo file under `root`, refusing
// anything that could escape it: absolute paths, '..', backslashes, NUL,
// symlinks pointing outside, and files that are not JPEG/PNG/WebP by name.
absl::StatusOr<std::string> ResolvePhotoPath(const std::string& root, const std::string& relative);

}  // namespace photosearch
