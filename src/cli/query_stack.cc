#include "cli/query_stack.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <set>

#include "absl/strings/str_cat.h"
#include "cli/common.h"
#include "gateway/http_server.h"
#include "gateway/local_backend.h"
#include "gateway/remote_backend.h"
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

// A local path that does not exist is a typo, not a new repository (OpenStore
// would create it): refuse it when shards are needed.
absl::Status CheckLocalRepository(const std::string& repo) {
  if (repo.find("://") != std::string::npos && repo.rfind("file://", 0) != 0) return absl::OkStatus();
  const std::string path = repo.rfind("file://", 0) == 0 ? repo.substr(7) : repo;
  std::error_code ec;
  if (!std::filesystem::is_directory(path, ec)) {
    return absl::NotFoundError(absl::StrCat("repository '", repo, "' does not exist"));
  }
  return absl::OkStatus();
}

}  // namespace

StopOnSignal::StopOnSignal(std::function<void(int)> stop) {
  if (g_signal_pipe[0] < 0 && ::pipe2(g_signal_pipe, O_CLOEXEC) != 0) {
    spdlog::error("cannot create the signal pipe; SIGTERM will not stop gracefully");
    return;
  }
  struct sigaction action {};
  action.sa_handler = OnSignal;
  sigemptyset(&action.sa_mask);
  ::sigaction(SIGINT, &action, nullptr);
  ::sigaction(SIGTERM, &action, nullptr);
  watcher_ = std::thread([stop = std::move(stop)] {
    unsigned char received = 0;
    while (::read(g_signal_pipe[0], &received, 1) < 0 && errno == EINTR) {
    }
    if (received != 0) {
      spdlog::info("received {}, stopping", received == SIGINT ? "SIGINT" : "SIGTERM");
      stop(received);
    }
  });
}

StopOnSignal::~StopOnSignal() {
  if (!watcher_.joinable()) return;
  unsigned char zero = 0;  // wakes the watcher without a signal
  ssize_t ignored = ::write(g_signal_pipe[1], &zero, 1);
  (void)ignored;
  watcher_.join();
}

absl::StatusOr<std::unique_ptr<QueryStack>> BuildQueryStack(const QueryStackOptions& options) {
  auto stack = std::make_unique<QueryStack>();
  // The model first: its id and dimension choose the shards.
  if (options.load_model) {
    auto embedder = LoadModel(options.model, options.limits, options.default_replicas);
    if (!embedder.ok()) return embedder.status();
    stack->embedder = std::move(*embedder);
    stack->model = stack->embedder->manifest();
  } else {
    auto manifest = LoadModelManifest(options.model.model);
    if (!manifest.ok()) return manifest.status();
    stack->model = *manifest;
  }
  const ModelManifest& model = stack->model;

  if (!options.repo.empty()) {
    if (options.need_shards || options.repo_must_exist) {
      if (absl::Status s = CheckLocalRepository(options.repo); !s.ok()) return s;
    }
    auto store = OpenStore(options.repo);
    if (!store.ok()) return store.status();
    stack->repository = std::make_unique<Repository>(std::move(*store));
    stack->shards = std::make_unique<ShardManager>(
        stack->repository.get(), model.id, model.dimension,
        ShardCacheDir(stack->repository->url()), options.selection);
    // Deletes are applied inside every search: the tombstones first, so that
    // no shard is ever served without them.
    stack->tombstones = std::make_unique<TombstoneFeed>(&stack->repository->store());
    (void)stack->tombstones->Refresh();  // logged; retried by the poller
    stack->shards->UseTombstones(stack->tombstones.get());
    if (options.tombstone_poll_ms > 0) stack->tombstones->StartPolling(options.tombstone_poll_ms);
    absl::Status refreshed = stack->shards->Refresh();  // a bad version never stops a server
    if (stack->shards->Snapshot().empty()) {
      std::set<std::string> others;
      if (auto all = stack->repository->ListArtifacts("shard"); all.ok()) {
        for (const auto& a : *all) others.insert(a.key.model_id);
      }
      const std::string what = absl::StrCat(
          "no shard of model ", model.id, " in ", stack->repository->url(),
          options.selection.windows.empty() && options.selection.partition.count == 0
              ? ""
              : " matches the selection",
          others.empty() ? "" : "; it holds shards of ", others.empty() ? "" : *others.begin());
      if (options.need_shards) {
        if (!refreshed.ok()) return refreshed;
        return absl::NotFoundError(absl::StrCat(what, "; run photosearch index first"));
      }
      spdlog::warn("{} yet; searches answer 503 until one is published "
                   "(photosearch index --photos DIR --repo {})",
                   what, options.repo);
    }
    if (options.poll_seconds > 0) stack->shards->StartPolling(options.poll_seconds * 1000);
  }

  if (options.directory != nullptr) {
    RemoteBackendOptions remote;
    remote.model = model.id;
    remote.dimension = model.dimension;
    remote.health_interval_ms = options.health_interval_ms;
    auto backend =
        std::make_unique<RemoteBackend>(options.directory, &stack->metrics, std::move(remote));
    backend->Start();
    stack->backend = std::move(backend);
  } else if (stack->shards) {
    stack->backend = std::make_unique<LocalBackend>(stack->shards.get());
  }
  if (!stack->embedder || !stack->backend) return stack;

  MetricsRegistry& metrics = stack->metrics;
  Histogram* batch_sizes = metrics.GetHistogram(
      "photosearch_embed_batch_size", "Photos per forward pass", {}, {1, 2, 4, 8, 16, 32, 64});
  Histogram* forward_seconds = metrics.GetHistogram("photosearch_stage_duration_seconds",
                                                    "Time per query stage", {{"stage", "forward"}});
  stack->embedder->batcher().set_batch_observer([=](int n, double ms) {
    batch_sizes->Observe(n);
    forward_seconds->Observe(ms / 1000);
  });
  auto detector = LoadDetectorFor(options.detect, options.detector);
  if (!detector.ok()) return detector.status();
  stack->detector = std::move(*detector);
  if (stack->detector) {  // one OpenMP team for both models: the embedder's worker runs both
    stack->detector->set_forward_executor(
        [batcher = &stack->embedder->batcher()](const std::function<void()>& forward) {
          batcher->RunOnWorker(forward).wait();
        });
  }
  stack->service = std::make_unique<SearchService>(stack->embedder.get(), stack->backend.get(),
                                                   &stack->metrics, SearchLimits{},
                                                   stack->detector.get(), options.fan_out);
  return stack;
}

int ServeHttp(const std::string& command, QueryStack& stack, const HttpFrontFlags& flags,
              const std::string& summary) {
  HttpServerOptions http;
  http.host = flags.host;
  http.port = flags.port;
  http.photos_dir = flags.photos;
  http.max_body_bytes = flags.max_body_bytes + (1 << 20);  // multipart framing
  HttpServer server(stack.service.get(), &stack.metrics, http);
  auto port = server.Bind();
  if (!port.ok()) return Fail(command, port.status());
  StopOnSignal stop([&server](int) { server.Stop(); });
  std::printf("photosearch %s: %s\n", command.c_str(), summary.c_str());
  std::printf("photosearch %s: listening on http://%s:%d\n", command.c_str(), flags.host.c_str(),
              *port);
  std::fflush(stdout);
  absl::Status served = server.Serve();
  if (!served.ok()) return Fail(command, served);
  return 0;
}

}  // namespace photosearch
