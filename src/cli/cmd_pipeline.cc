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
#include "base/status_macros.h"
#include "cli/commands.h"
#include "cli/common.h"
#include "model/manifest.h"
#include "base/json_fields.h"
#include "nlohmann/json.hpp"
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
  auto keys = repository.store().List("runs/");
  if (!keys.ok()) return Fail("pipeline runs", keys.status());
  if (keys->empty()) std::printf("no runs in %s\n", repository.url().c_str());
  for (const std::string& key : *keys) {
    auto text = repository.store().Get(key, 64 << 20);
    absl::StatusOr<nlohmann::json> j =
        text.ok() ? json_fields::Parse(*text) : absl::StatusOr<nlohmann::json>(text.status());
    // A record is written by a run, but the repository is shared: read it as
    // outside input (wrong types are "unreadable", numbers range-checked).
    const nlohmann::json counts =
        j.ok() && j->is_object() ? j->value("counts", nlohmann::json::object()) : nlohmann::json();
    auto embedded = json_fields::Int(counts, "embedded", 0, 0, INT64_MAX, "counts.");
    auto failed = json_fields::Int(counts, "failed", 0, 0, INT64_MAX, "counts.");
    std::string line;
    try {
      if (j.ok() && j->is_object() && embedded.ok() && failed.ok()) {
        line = absl::StrFormat("%s  %s  %s %s  embedded %d, failed %d", j->value("run_id", "?"),
                               j->value("status", "?"), j->value("window", "?"),
                               j->value("partition", "?"), *embedded, *failed);
      }
    } catch (const nlohmann::json::exception&) {
      line.clear();
    }
    if (line.empty()) line = key + "  unreadable";
    std::printf("%s\n", line.c_str());
  }
  return 0;
}

}  // namespace

int RunPipelineCommand(PipelineFlags flags) {
  const std::string what = "pipeline " + flags.action;
  if (flags.action == "rerun" &&
      (flags.run_id.find('/') != std::string::npos || flags.run_id.size() > 200)) {
    return Fail(what, absl::InvalidArgumentError("bad run id"));
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
    auto text = repository.store().Get("runs/" + flags.run_id + ".json", 64 << 20);
    if (!text.ok()) return Fail(what, text.status());
    absl::StatusOr<nlohmann::json> parsed = json_fields::Parse(*text);
    if (!parsed.ok() || !parsed->is_object()) {
      return Fail(what, absl::DataLossError("unreadable run record"));
    }
    const nlohmann::json& j = *parsed;
    try {
      flags.window = j.value("window", "");
      flags.partition = j.value("partition", "0/1");
      if (flags.catalog.empty()) flags.catalog = j.value("catalog", "");
      flags.from_images = j.value("from_images", false);
      const std::string recorded = j.value("config", "default");
      if (flags.config.empty() && recorded != "default") {
        flags.config = recorded;  // the same config file, if it is still there
        config = ResolveConfig(flags);
        if (!config.ok()) return Fail(what, config.status());
      }
      if (PipelineConfigHash(*config) != j.value("config_sha256", "")) {
        std::fprintf(stderr, "note: the pipeline config differs from the recorded run's\n");
      }
    } catch (const nlohmann::json::exception& e) {
      return Fail(what, absl::DataLossError(absl::StrCat("unreadable run record: ", e.what())));
    }
    config->catalog = flags.catalog;
  }
  return Run(repository, flags, std::move(*config));
}

}  // namespace photosearch
