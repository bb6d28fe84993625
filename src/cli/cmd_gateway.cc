#include <cstdio>

#include "absl/strings/str_cat.h"
#include "cli/common.h"
#include "cli/query_stack.h"
#include "discovery/etcd_directory.h"
#include "discovery/static_directory.h"
#include "gateway/http_server.h"

namespace photosearch {

int RunGateway(const GatewayFlags& flags) {
  if (flags.etcd.empty() == flags.shards.empty()) {
    return Fail("gateway", absl::InvalidArgumentError(
                               "give either --etcd URL or --shards FILE (a static list of index "
                               "servers), not both"));
  }
  auto manifest = LoadModelManifest(flags.model.model);
  if (!manifest.ok()) return Fail("gateway", manifest.status());
  std::unique_ptr<Directory> directory;
  if (!flags.etcd.empty()) {
    auto etcd = std::make_unique<EtcdDirectory>(flags.etcd, kDefaultPrefix, manifest->id);
    if (absl::Status started = etcd->Start(); !started.ok()) return Fail("gateway", started);
    directory = std::move(etcd);
  } else {
    auto file = LoadStaticDirectory(flags.shards);
    if (!file.ok()) return Fail("gateway", file.status());
    directory = std::move(*file);
  }

  QueryStackOptions options;
  options.command = "gateway";
  options.model = flags.model;
  options.limits.max_bytes = flags.max_body_bytes;
  options.limits.max_pixels = flags.max_pixels;
  options.detector = flags.detector;
  options.directory = directory.get();
  options.fan_out.deadline_ms = flags.deadline_ms;
  options.fan_out.overfetch = flags.overfetch;
  options.health_interval_ms = flags.health_ms;
  auto stack = BuildQueryStack(options);
  if (!stack.ok()) return Fail("gateway", stack.status());
  QueryStack& s = **stack;

  HttpServerOptions http;
  http.host = flags.host;
  http.port = flags.port;
  http.photos_dir = flags.photos;
  http.max_body_bytes = flags.max_body_bytes + (1 << 20);  // multipart framing
  HttpServer server(s.service.get(), &s.metrics, http);
  auto port = server.Bind();
  if (!port.ok()) return Fail("gateway", port.status());
  StopOnSignal stop([&server](int) { server.Stop(); });

  std::string note;
  absl::Status ready = s.backend->Ready(&note);
  std::printf("photosearch gateway: model %s, %zu shard(s) on %s; %s\n", s.model.id.c_str(),
              s.backend->Shards().size(), flags.etcd.empty() ? flags.shards.c_str() : flags.etcd.c_str(),
              ready.ok() ? "ready" : std::string(ready.message()).c_str());
  std::printf("photosearch gateway: listening on http://%s:%d\n", flags.host.c_str(), *port);
  std::fflush(stdout);
  absl::Status served = server.Serve();
  if (!served.ok()) return Fail("gateway", served);
  return 0;
}

}  // namespace photosearch
