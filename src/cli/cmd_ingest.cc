// `photosearch ingest`: listing events from a Redis stream into a live shard
// served over gRPC (see ingest/ingester.h).
#include <atomic>
#include <cstdio>
#include <filesystem>
#include <thread>

#include "absl/strings/str_cat.h"
#include "artifact/window.h"
#include "base/json_fields.h"
#include "base/thread_priority.h"
#include "cli/common.h"
#include "cli/query_stack.h"
#include "cli/side_services.h"
#include "discovery/etcd_directory.h"
#include "discovery/etcd_registrar.h"
#include "ingest/ingester.h"
#include "server/index_server.h"
#include "spdlog/spdlog.h"

namespace photosearch {
namespace {

constexpr int kLiveVersion = 1;
constexpr int kEmbedNice = 19;

std::string StatusJson(const IngestStatus& s, const std::string& window) {
  nlohmann::json hours = nlohmann::json::object();
  for (const auto& [hour, n] : s.hours) hours[hour] = n;
  return DumpJson({{"shard", window + "/part-0-of-1"},
                   {"items", s.live_items},
                   {"vectors", s.live_vectors},
                   {"bytes", s.live_bytes},
                   {"hours", hours},
                   {"log_bytes", s.log_bytes},
                   {"pending_tombstones", s.pending_tombstones},
                   {"redis", {{"connected", s.redis_connected}, {"error", s.redis_error}}},
                   {"counts",
                    {{"replayed", s.replayed},
                     {"embedded", s.embedded},
                     {"acked", s.acked},
                     {"dead_letters", s.dead_letters},
                     {"handed_over", s.handed_over}}}});
}

}  // namespace

int RunIngest(const IngestFlags& flags) {
  const std::string window = "live/" + flags.consumer;
  if (!IsLiveWindow(window)) {
    return Fail("ingest", absl::InvalidArgumentError(absl::StrCat(
                              "--consumer '", flags.consumer.substr(0, 64),
                              "' must be 1..64 letters, digits, '.', '_' or '-'")));
  }
  auto redis = ParseRedisUrl(flags.redis);
  if (!redis.ok()) return Fail("ingest", redis.status());
  auto policy = ParseDetectPolicy(flags.detect);
  if (!policy.ok()) return Fail("ingest", policy.status());
  if (flags.stream.empty() || flags.stream.size() > 256 || flags.group.empty() ||
      flags.group.size() > 256) {
    return Fail("ingest", absl::InvalidArgumentError("--stream and --group must be 1..256 bytes"));
  }
  if (!flags.advertise.empty()) {
    if (absl::Status s = ValidateHostPort(flags.advertise); !s.ok()) return Fail("ingest", s);
  }

  auto store = OpenStore(flags.repo);
  if (!store.ok()) return Fail("ingest", store.status());
  Repository repository(std::move(*store));
  // Embedding is background work beside the queries the live shard answers:
  // its threads (the model's, and the fetchers' that decode) run at nice 19
  // and SCHED_IDLE, so the queries' threads always find a core.
  // Throughput, not one photo's latency (the gateway embeds queries): one
  // single-threaded replica per core, as `index` and `pipeline run` use it.
  auto embedder = LoadModel(flags.model, DecodeLimits{}, /*default_replicas=*/0, kEmbedNice);
  if (!embedder.ok()) return Fail("ingest", embedder.status());
  const ModelManifest& model = (*embedder)->manifest();
  auto detector = LoadDetectorFor(*policy, flags.detector);
  if (!detector.ok()) return Fail("ingest", detector.status());

  // Tombstones first: replaying the log must not bring back a deleted listing.
  TombstoneFeed tombstones(&repository.store());
  if (absl::Status read = tombstones.Refresh(); !read.ok()) {
    spdlog::warn("tombstones: {}; retrying in the background", std::string(read.message()));
  }
  auto live = LiveShard::Create(model.dimension);
  if (!live.ok()) return Fail("ingest", live.status());
  std::shared_ptr<LiveShard> shard = std::move(*live);
  tombstones.AddListener([shard](const TombstoneSet& set) { shard->ApplyTombstones(set); });
  shard->ApplyTombstones(tombstones.set());

  const std::string wal =
      flags.wal.empty()
          ? (std::filesystem::path("photosearch-ingest") / flags.consumer).string()
          : flags.wal;
  auto log = IngestLog::Open(wal, model.dimension);
  if (!log.ok()) return Fail("ingest", log.status());

  std::unique_ptr<EtcdDirectory> directory;
  if (!flags.etcd.empty()) {
    directory = std::make_unique<EtcdDirectory>(flags.etcd, kDefaultPrefix, model.id);
    if (absl::Status started = directory->Start(); !started.ok()) return Fail("ingest", started);
  }

  IngestOptions options;
  options.redis = *redis;
  options.stream = flags.stream;
  options.group = flags.group;
  options.consumer = flags.consumer;
  options.dead_letter = flags.dead_letter;
  options.start_id = flags.start_id;
  options.batch = flags.batch;
  options.claim_idle_ms = flags.claim_idle_ms;
  options.detect = *policy;
  options.handover_delay_ms =
      flags.handover_delay_ms >= 0 ? flags.handover_delay_ms : (directory ? 5000 : 30000);
  options.fetch.concurrency = flags.fetch_concurrency;
  options.fetch.file_root = flags.file_root;
  options.fetch.cache_dir =
      flags.cache_dir.empty()
          ? (std::filesystem::temp_directory_path() / "photosearch-fetch-cache").string()
          : flags.cache_dir;
  MetricsRegistry metrics;
  Ingester ingester(options, embedder->get(), detector->get(), &repository, log->get(),
                    &tombstones, shard.get(), directory.get(), &metrics);
  if (absl::Status recovered = ingester.Recover(); !recovered.ok()) {
    return Fail("ingest", recovered);
  }
  tombstones.StartPolling(flags.tombstone_poll_ms);

  FixedShardSource source(model.id, {LiveShardHandle(shard, model.id, model.dimension, window)});
  IndexServer server(&source, model.dimension, &metrics);
  auto port = server.Start(flags.host, flags.port);
  if (!port.ok()) return Fail("ingest", port.status());
  std::string address = flags.advertise;
  if (address.empty()) {
    if (flags.host == "0.0.0.0" || flags.host == "::") {
      server.Shutdown(0);
      return Fail("ingest", absl::InvalidArgumentError(
                                "listening on all addresses: give --advertise HOST:PORT"));
    }
    address = absl::StrCat(flags.host, ":", *port);
  }

  std::unique_ptr<EtcdRegistrar> registrar;
  std::unique_ptr<RegistrationPublisher> publisher;
  if (!flags.etcd.empty()) {
    auto registrations = [&] {
      Registration r;
      r.address = address;
      r.model = model.id;
      r.window = window;
      r.version = kLiveVersion;
      r.items = static_cast<int64_t>(shard->items());
      return std::vector<Registration>{r};
    };
    auto started = StartRegistrar(flags.etcd, flags.lease_ttl, registrations());
    if (!started.ok()) return Fail("ingest", started.status());
    registrar = std::move(*started);
    // Item counts change as events come; the registration follows every 5 s.
    publisher = std::make_unique<RegistrationPublisher>(registrar.get(), registrations, 5000);
  }

  ProbeHttp http(
      &metrics,
      [&ingester] {
        IngestStatus s = ingester.Status();
        return s.redis_connected ? absl::OkStatus()
                                 : absl::UnavailableError("redis: " + (s.redis_error.empty()
                                                                           ? "not connected yet"
                                                                           : s.redis_error));
      },
      {{"/v1/live", [&ingester, window] { return StatusJson(ingester.Status(), window); }}});
  int http_port = -1;
  if (flags.http_port >= 0) {
    auto bound = http.Start(flags.host, flags.http_port);
    if (!bound.ok()) {
      server.Shutdown(0);
      return Fail("ingest", bound.status());
    }
    http_port = *bound;
  }

  std::atomic<bool> stopping{false};
  std::thread consumer([&] {
    // The fetch threads it starts (which decode) inherit this.
    LowerThisThreadPriority(kEmbedNice);
    ingester.Run(stopping);
  });
  std::thread handover([&] { ingester.RunHandover(stopping); });
  StopOnSignal stop([&](int) {
    stopping = true;
    if (registrar) registrar->Stop();  // out of discovery first, then drain
    server.Shutdown(2000);
  });
  std::printf("photosearch ingest: model %s, %zu live listings from the log %s\n",
              model.id.c_str(), shard->items(), wal.c_str());
  std::printf("photosearch ingest: reading %s as %s/%s from %s into %s\n", flags.stream.c_str(),
              flags.group.c_str(), flags.consumer.c_str(), redis->Redacted().c_str(),
              window.c_str());
  std::printf("photosearch ingest: listening on %s:%d (grpc), advertised as %s%s\n",
              flags.host.c_str(), *port, address.c_str(),
              flags.etcd.empty() ? "" : absl::StrCat(" in ", flags.etcd).c_str());
  if (http_port >= 0) {
    std::printf("photosearch ingest: status on http://%s:%d/v1/live\n", flags.host.c_str(),
                http_port);
  }
  std::fflush(stdout);
  server.Wait();
  stopping = true;
  consumer.join();
  handover.join();
  http.Stop();
  if (publisher) publisher->Stop();
  return 0;
}

}  // namespace photosearch
