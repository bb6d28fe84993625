#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <filesystem>
#include <set>
#include <thread>

#include "artifact/repository.h"
#include "base/metrics.h"
#include "cli/common.h"
#include "gateway/http_server.h"
#include "gateway/search_service.h"
#include "serving/shard_manager.h"
#include "spdlog/spdlog.h"

namespace photosearch {

namespace {

// SIGINT/SIGTERM may land on any thread (libraries start threads before main),
// so the handler only writes the signal number to a pipe; a watcher thread
// reads it and stops the server outside signal context.
int g_signal_pipe[2] = {-1, -1};

void OnSignal(int signal) {
  unsigned char byte = static_cast<unsigned char>(signal);
  ssize_t ignored = ::write(g_signal_pipe[1], &byte, 1);  // async-signal-safe
  (void)ignored;
}

}  // namespace

int RunServe(const ServeFlags& flags) {
  if (::pipe2(g_signal_pipe, O_CLOEXEC) != 0) {
    return Fail("serve", absl::InternalError("cannot create the signal pipe"));
  }
  struct sigaction action {};
  action.sa_handler = OnSignal;
  sigemptyset(&action.sa_mask);
  ::sigaction(SIGINT, &action, nullptr);
  ::sigaction(SIGTERM, &action, nullptr);

  auto store = OpenStore(flags.repo);
  if (!store.ok()) return Fail("serve", store.status());
  Repository repository(std::move(*store));
  DecodeLimits limits;
  limits.max_bytes = flags.max_body_bytes;
  limits.max_pixels = flags.max_pixels;
  auto embedder = LoadModel(flags.model, limits, /*default_replicas=*/1);
  if (!embedder.ok()) return Fail("serve", embedder.status());
  const ModelManifest& model = (*embedder)->manifest();

  std::error_code ec;
  ShardManager shards(&repository, model.id, model.dimension, ShardCacheDir(repository.url()));
  (void)shards.Refresh();  // errors are logged; a bad version never stops the server
  if (shards.Snapshot().empty()) {
    std::set<std::string> others;
    if (auto all = repository.ListArtifacts("shard"); all.ok()) {
      for (const auto& a : *all) others.insert(a.key.model_id);
    }
    spdlog::warn(
        "no shard of model {} in {} yet{}{}; searches answer 503 until one is published "
        "(photosearch index --photos DIR --repo {})",
        model.id, repository.url(), others.empty() ? "" : "; it holds shards of ",
        others.empty() ? "" : *others.begin(), flags.repo);
  }
  if (flags.poll_seconds > 0) shards.StartPolling(flags.poll_seconds * 1000);

  MetricsRegistry metrics;
  Histogram* batch_sizes = metrics.GetHistogram(
      "photosearch_embed_batch_size", "Photos per forward pass", {}, {1, 2, 4, 8, 16, 32, 64});
  Histogram* forward_seconds = metrics.GetHistogram("photosearch_stage_duration_seconds",
                                                    "Time per query stage", {{"stage", "forward"}});
  (*embedder)->batcher().set_batch_observer([=](int n, double ms) {
    batch_sizes->Observe(n);
    forward_seconds->Observe(ms / 1000);
  });
  // The detector behind ?detect=primary|all (queries default to the whole photo).
  auto detector = LoadDetectorFor(DetectPolicy::kAll, flags.detector);
  if (!detector.ok()) return Fail("serve", detector.status());
  if (*detector) {  // one OpenMP team for both models: the embedder's worker runs both
    (*detector)->set_forward_executor(
        [batcher = &(*embedder)->batcher()](const std::function<void()>& forward) {
          batcher->RunOnWorker(forward).wait();
        });
  }
  SearchService service(embedder->get(), &shards, &metrics, SearchLimits{}, detector->get());
  HttpServerOptions options;
  options.host = flags.host;
  options.port = flags.port;
  options.photos_dir = flags.photos;
  options.max_body_bytes = flags.max_body_bytes + (1 << 20);  // multipart framing
  HttpServer server(&service, &shards, &metrics, options);
  auto port = server.Bind();
  if (!port.ok()) return Fail("serve", port.status());

  std::thread signal_waiter([&server] {
    unsigned char received = 0;
    while (::read(g_signal_pipe[0], &received, 1) < 0 && errno == EINTR) {
    }
    if (received != 0)
      spdlog::info("received {}, stopping", received == SIGINT ? "SIGINT" : "SIGTERM");
    server.Stop();
  });
  int64_t items = 0;
  for (const auto& s : shards.Snapshot()) items += s->manifest.item_count;
  std::printf("photosearch serve: model %s, %zu shard(s), %lld items from %s\n", model.id.c_str(),
              shards.Snapshot().size(), static_cast<long long>(items), repository.url().c_str());
  std::printf("photosearch serve: listening on http://%s:%d\n", flags.host.c_str(), *port);
  std::fflush(stdout);
  absl::Status served = server.Serve();
  // Wake the watcher if Serve ended for another reason (byte 0: no signal).
  unsigned char zero = 0;
  ssize_t ignored = ::write(g_signal_pipe[1], &zero, 1);
  (void)ignored;
  signal_waiter.join();
  if (!served.ok()) return Fail("serve", served);
  return 0;
}

}  // namespace photosearch
