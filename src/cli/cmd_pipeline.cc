// `photosearch pipeline run|runs|rerun`: time-windowed batch indexing.
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <filesystem>
#include <iostream>

#include "absl/strings/match.h"
#include "artifact/repository.h"
#include "cli/commands.h"
#include "cli/common.h"
#include "nlohmann/json.hpp"
#include "pipeline/window_pipeline.h"

namespace photosearch {
namespace {

std::atomic<bool> g_stop{false};  // lock-free: safe to set from a signal handler
void OnSignal(int) { g_stop.store(true); }

int Run(Repository& repository, const PipelineFlags& flags) {
  auto partition = ParsePartition(flags.partition);
  if (!partition.ok()) return Fail("pipeline run", partition.status());
  auto window = ParseTimeWindow(flags.window);
  if (!window.ok()) return Fail("pipeline run", window.status());
  auto embedder = LoadModel(flags.model, DecodeLimits{}, /*default_replicas=*/0);
  if (!embedder.ok()) return Fail("pipeline run", embedder.status());

  struct sigaction action {};
  action.sa_handler = OnSignal;
  ::sigaction(SIGINT, &action, nullptr);
  ::sigaction(SIGTERM, &action, nullptr);

  PipelineOptions options;
  options.catalog = flags.catalog;
  if (!flags.catalog_query.empty()) options.catalog_query = flags.catalog_query;
  options.window = flags.window;
  options.partition = *partition;
  options.from_images = flags.from_images;
  options.max_failed_fraction = flags.max_failed;
  options.index_spec = flags.index;
  options.fetch.concurrency = flags.concurrency;
  options.fetch.cache_dir =
      flags.cache_dir.empty()
          ? (std::filesystem::temp_directory_path() / "photosearch-fetch-cache").string()
          : flags.cache_dir;
  options.fetch.cache_max_bytes = flags.cache_gb * (1ull << 30);
  options.fetch.file_root = flags.file_root;
  options.cancelled = &g_stop;
  const bool tty = ::isatty(STDERR_FILENO);
  double last_line = -10;
  options.on_progress = [&](const PipelineProgress& p) {
    if (!tty && p.elapsed_seconds - last_line < 5) return;
    last_line = p.elapsed_seconds;
    double rate = p.elapsed_seconds > 0 ? p.done / p.elapsed_seconds : 0;
    double eta = rate > 0 ? (p.total - p.done) / rate : 0;
    std::fprintf(stderr, "%s%s: %lld/%lld, %.1f/s, %lld failed, ETA %.0f s%s", tty ? "\r" : "",
                 p.step.c_str(), static_cast<long long>(p.done), static_cast<long long>(p.total),
                 rate, static_cast<long long>(p.failed), eta, tty ? "   " : "\n");
    std::fflush(stderr);
  };
  std::fprintf(stderr, "pipeline %s partition %s with %s into %s\n", flags.window.c_str(),
               flags.partition.c_str(), (*embedder)->manifest().id.c_str(),
               repository.url().c_str());
  auto run = RunPipeline(**embedder, repository, options);
  if (tty) std::fprintf(stderr, "\n");
  if (!run.ok()) return Fail("pipeline run", run.status());
  std::printf(
      "run %s %s: %lld catalog items, %lld embedded, %lld from rollup, %lld reused, %lld failed; "
      "features v%lld%s, shard v%lld%s\n",
      run->run_id.c_str(), run->status.c_str(), static_cast<long long>(run->catalog_items),
      static_cast<long long>(run->embedded), static_cast<long long>(run->from_rollup),
      static_cast<long long>(run->reused_features), static_cast<long long>(run->failure_count),
      static_cast<long long>(run->features_version), run->features_reused ? " (reused)" : "",
      static_cast<long long>(run->shard_version), run->shard_reused ? " (reused)" : "");
  for (size_t i = 0; i < run->failures.size() && i < 20; ++i) {
    std::printf("  failed %s: %s\n", run->failures[i].first.c_str(),
                run->failures[i].second.c_str());
  }
  if (run->status != "succeeded") {
    std::fprintf(stderr, "photosearch pipeline run: %s\n", run->error.c_str());
    return run->status == "cancelled" ? 130 : 1;
  }
  return 0;
}

int Runs(Repository& repository) {
  auto keys = repository.store().List("runs/");
  if (!keys.ok()) return Fail("pipeline runs", keys.status());
  if (keys->empty()) std::printf("no runs in %s\n", repository.url().c_str());
  for (const std::string& key : *keys) {
    auto text = repository.store().Get(key, 64 << 20);
    nlohmann::json j = text.ok() ? nlohmann::json::parse(*text, nullptr, false) : nlohmann::json();
    if (!j.is_object()) {
      std::printf("%s  unreadable\n", key.c_str());
      continue;
    }
    std::printf("%s  %s  %s %s  embedded %lld, failed %lld\n", j.value("run_id", "?").c_str(),
                j.value("status", "?").c_str(), j.value("window", "?").c_str(),
                j.value("partition", "?").c_str(),
                static_cast<long long>(j["counts"].value("embedded", 0)),
                static_cast<long long>(j["counts"].value("failed", 0)));
  }
  return 0;
}

}  // namespace

int RunPipelineCommand(PipelineFlags flags) {
  auto store = OpenStore(flags.repo);
  if (!store.ok()) return Fail("pipeline", store.status());
  Repository repository(std::move(*store));
  if (flags.action == "runs") return Runs(repository);
  if (flags.action == "rerun") {
    if (flags.run_id.find('/') != std::string::npos || flags.run_id.size() > 200) {
      return Fail("pipeline rerun", absl::InvalidArgumentError("bad run id"));
    }
    auto text = repository.store().Get("runs/" + flags.run_id + ".json", 64 << 20);
    if (!text.ok()) return Fail("pipeline rerun", text.status());
    nlohmann::json j = nlohmann::json::parse(*text, nullptr, false);
    if (!j.is_object()) return Fail("pipeline rerun", absl::DataLossError("unreadable run record"));
    flags.window = j.value("window", "");
    flags.partition = j.value("partition", "0/1");
    if (flags.catalog.empty()) flags.catalog = j.value("catalog", "");
    flags.from_images = j.value("from_images", false);
  }
  return Run(repository, flags);
}

}  // namespace photosearch
