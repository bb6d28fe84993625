// `photosearch pipeline run|runs|rerun`: time-windowed batch indexing.
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <filesystem>
#include <iostream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "artifact/repository.h"
#include "artifact/run_record.h"
#include "base/status_macros.h"
#include "cli/commands.h"
#include "cli/common.h"
#include "model/manifest.h"
#include "pipeline/pipeline_config.h"
#include "pipeline/window_pipeline.h"

namespace photosearch {
namespace {

std::atomic<bool> g_stop{false};  // lock-free: safe to set from a signal handler
void OnSignal(int) { g_stop.store(true); }

bool Given(const PipelineFlags& flags, const std::string& flag) {
  return flags.given.count(flag) > 0;
}

// The config to run: --config, else the default; flags given on the command
// line override what it says.
absl::StatusOr<PipelineConfig> ResolveConfig(PipelineFlags& flags) {
  PipelineConfig config = DefaultPipelineConfig();
  if (!flags.config.empty()) {
    ASSIGN_OR_RETURN(config, LoadPipelineConfig(flags.config));
  }
  if (!Given(flags, "--repo")) flags.repo = config.repo;
  if (!Given(flags, "--catalog") && flags.catalog.empty()) flags.catalog = config.catalog;
  if (!Given(flags, "--catalog-query") && flags.catalog_query.empty()) {
    flags.catalog_query = config.catalog_query;
  }
  if (!Given(flags, "--model") && !config.model.empty()) flags.model.model = config.model;
  config.catalog = flags.catalog;
  config.catalog_query = flags.catalog_query;
  config.repo = flags.repo;
  config.model = flags.model.model;
  if (Given(flags, "--concurrency")) {
    OverrideStepParam(&config, "fetch", "concurrency", std::to_string(flags.concurrency));
  }
  if (Given(flags, "--cache-dir"))
    OverrideStepParam(&config, "fetch", "cache_dir", flags.cache_dir);
  if (Given(flags, "--cache-gb")) {
    OverrideStepParam(&config, "fetch", "cache_gb", std::to_string(flags.cache_gb));
  }
  if (Given(flags, "--file-root"))
    OverrideStepParam(&config, "fetch", "file_root", flags.file_root);
  if (Given(flags, "--max-failed")) {
    OverrideStepParam(&config, "embed", "max_failed_fraction", absl::StrCat(flags.max_failed));
  }
  if (Given(flags, "--index")) OverrideStepParam(&config, "build", "index", flags.index);
  if (Given(flags, "--detect")) OverrideStepParam(&config, "embed", "detect", flags.detect);
  if (Given(flags, "--detector")) {
    OverrideStepParam(&config, "embed", "detector", flags.detector);
  }
  return config;
}

int Run(Repository& repository, const PipelineFlags& flags, PipelineConfig config) {
  auto partition = ParsePartition(flags.partition);
  if (!partition.ok()) return Fail("pipeline run", partition.status());
  auto window = ParseTimeWindow(flags.window);
  if (!window.ok()) return Fail("pipeline run", window.status());
  auto manifest = LoadModelManifest(flags.model.model);
  if (!manifest.ok()) return Fail("pipeline run", manifest.status());
  PipelineModel model;
  model.manifest = *manifest;
  model.load = [&flags] { return LoadModel(flags.model, DecodeLimits{}, /*default_replicas=*/0); };

  struct sigaction action {};
  action.sa_handler = OnSignal;
  ::sigaction(SIGINT, &action, nullptr);
  ::sigaction(SIGTERM, &action, nullptr);

  PipelineOptions options;
  options.config = std::move(config);
  options.catalog = flags.catalog;
  if (!flags.catalog_query.empty()) options.catalog_query = flags.catalog_query;
  options.window = flags.window;
  options.partition = *partition;
  options.from_images = flags.from_images;
  options.max_failed_fraction = flags.max_failed;
  options.index_spec = flags.index;
  options.detect = flags.detect;
  options.detector = flags.detector.empty() ? DefaultDetectorPath() : flags.detector;
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
  std::fprintf(stderr, "pipeline %s partition %s with %s into %s (%s pipeline)\n",
               flags.window.c_str(), flags.partition.c_str(), model.manifest.id.c_str(),
               repository.url().c_str(), options.config.origin.c_str());
  auto run = RunPipeline(model, repository, options);
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
  auto ids = ListRunIds(repository.store());
  if (!ids.ok()) return Fail("pipeline runs", ids.status());
  if (ids->empty()) std::printf("no runs in %s\n", repository.url().c_str());
  for (const std::string& id : *ids) {
    auto run = ReadRunRecord(repository.store(), id);
    if (!run.ok()) {
      std::printf("%s  unreadable: %s\n", id.c_str(), std::string(run.status().message()).c_str());
      continue;
    }
    std::printf("%s\n", absl::StrFormat("%s  %s  %s %s  embedded %d, tombstoned %d, failed %d",
                                        run->run_id, run->status, run->window, run->partition,
                                        run->embedded, run->tombstoned, run->failure_count)
                            .c_str());
  }
  return 0;
}

}  // namespace

int RunPipelineCommand(PipelineFlags flags) {
  const std::string what = "pipeline " + flags.action;
  if (flags.action == "rerun") {
    if (absl::Status valid = ValidateRunId(flags.run_id); !valid.ok()) return Fail(what, valid);
  }
  auto config = ResolveConfig(flags);
  if (!config.ok()) return Fail(what, config.status());
  if (flags.repo.empty()) {
    return Fail(what, absl::InvalidArgumentError("give --repo (or repo: in the --config file)"));
  }
  auto store = OpenStore(flags.repo);
  if (!store.ok()) return Fail(what, store.status());
  Repository repository(std::move(*store));
  if (flags.action == "runs") return Runs(repository);
  if (flags.action == "rerun") {
    auto recorded = ReadRunRecord(repository.store(), flags.run_id);
    if (!recorded.ok()) return Fail(what, recorded.status());
    flags.window = recorded->window;
    flags.partition = recorded->partition;
    if (flags.catalog.empty()) flags.catalog = recorded->catalog;
    flags.from_images = recorded->from_images;
    if (flags.config.empty() && recorded->config != "default") {
      flags.config = recorded->config;  // the same config file, if it is still there
      config = ResolveConfig(flags);
      if (!config.ok()) return Fail(what, config.status());
    }
    if (PipelineConfigHash(*config) != recorded->config_sha256) {
      std::fprintf(stderr, "note: the pipeline config differs from the recorded run's\n");
    }
    config->catalog = flags.catalog;
  }
  return Run(repository, flags, std::move(*config));
}

}  // namespace photosearch
