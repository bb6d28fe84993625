#include "absl/strings/str_cat.h"
#include "cli/common.h"
#include "cli/query_stack.h"
#include "discovery/etcd_directory.h"
#include "discovery/static_directory.h"

namespace photosearch {

int RunGateway(const GatewayFlags& flags) {
  if (flags.etcd.empty() == flags.shards.empty()) {
    return Fail("gateway", absl::InvalidArgumentError(absl::StrCat(
                               flags.etcd.empty() ? "give" : "give only one of",
                               " --etcd URL or --shards FILE (a static list of index servers)")));
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

  std::string note;
  absl::Status ready = s.backend->Ready(&note);
  return ServeHttp("gateway", s, {flags.host, flags.port, flags.photos, flags.max_body_bytes},
                   absl::StrCat("model ", s.model.id, ", ", s.backend->Shards().size(),
                                " shard(s) from ", flags.etcd.empty() ? flags.shards : flags.etcd,
                                "; ", ready.ok() ? "ready" : ready.message()));
}

}  // namespace photosearch
