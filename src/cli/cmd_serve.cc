#include <cstdio>

#include "cli/common.h"
#include "cli/query_stack.h"
#include "gateway/http_server.h"
#include "spdlog/spdlog.h"

namespace photosearch {

int RunServe(const ServeFlags& flags) {
  QueryStackOptions options;
  options.command = "serve";
  options.model = flags.model;
  options.limits.max_bytes = flags.max_body_bytes;
  options.limits.max_pixels = flags.max_pixels;
  options.detector = flags.detector;  // ?detect=primary|all (queries default to the whole photo)
  options.repo = flags.repo;
  options.poll_seconds = flags.poll_seconds;
  auto stack = BuildQueryStack(options);
  if (!stack.ok()) return Fail("serve", stack.status());
  QueryStack& s = **stack;

  HttpServerOptions http;
  http.host = flags.host;
  http.port = flags.port;
  http.photos_dir = flags.photos;
  http.max_body_bytes = flags.max_body_bytes + (1 << 20);  // multipart framing
  HttpServer server(s.service.get(), &s.metrics, http);
  auto port = server.Bind();
  if (!port.ok()) return Fail("serve", port.status());
  StopOnSignal stop([&server](int) { server.Stop(); });

  int64_t items = 0;
  for (const ShardState& shard : s.backend->Shards()) items += shard.items;
  std::printf("photosearch serve: model %s, %zu shard(s), %lld items from %s\n",
              s.model.id.c_str(), s.backend->Shards().size(), static_cast<long long>(items),
              s.repository->url().c_str());
  std::printf("photosearch serve: listening on http://%s:%d\n", flags.host.c_str(), *port);
  std::fflush(stdout);
  absl::Status served = server.Serve();
  if (!served.ok()) return Fail("serve", served);
  return 0;
}

}  // namespace photosearch
