#include "pipeline/window_pipeline.h"

#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <future>
#include <mutex>
#include <random>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "base/clock.h"
#include "base/files.h"
#include "base/status_macros.h"
#include "base/stopwatch.h"
#include "index/shard.h"
#include "nlohmann/json.hpp"
#include "pipeline/shard_builder.h"

namespace photosearch {
namespace {

namespace fs = std::filesystem;

constexpr char kVectorsFile[] = "vectors.f32";
constexpr size_t kMaxFailuresKept = 1000;

std::string NewRunId(const std::string& window, const Partition& p) {
  std::string stamp = NowRfc3339();
  stamp.erase(
      std::remove_if(stamp.begin(), stamp.end(), [](char c) { return c == '-' || c == ':'; }),
      stamp.end());
  std::string w = window;
  std::replace(w.begin(), w.end(), '/', '-');
  std::random_device rd;
  return absl::StrCat(stamp, "-", w, "-p", p.index, "of", p.count, "-", rd() % 1000000);
}

// The newest published manifest of `key`, if any.
absl::StatusOr<std::optional<ArtifactManifest>> Newest(Repository& repo, const ArtifactKey& key) {
  ASSIGN_OR_RETURN(std::vector<int64_t> versions, repo.ListVersions(key));
  if (versions.empty()) return std::optional<ArtifactManifest>();
  ASSIGN_OR_RETURN(ArtifactManifest m, repo.ReadManifest(key, versions.back()));
  return std::optional<ArtifactManifest>(std::move(m));
}

struct Features {
  std::vector<std::string> ids;
  std::vector<float> vectors;
};

class Runner {
 public:
  Runner(PhotoEmbedder& embedder, Repository& repo, const PipelineOptions& options,
         PipelineRun* run)
      : embedder_(embedder),
        repo_(repo),
        options_(options),
        run_(run),
        model_(embedder.manifest()) {}

  absl::Status Execute(const TimeWindow& window) {
    feature_key_ = ArtifactKey{"feature", model_.id, window.name, options_.partition.index,
                               options_.partition.count};
    shard_key_ = ArtifactKey{"shard", model_.id, window.name, options_.partition.index,
                             options_.partition.count};
    Features features;
    std::map<std::string, std::string> inputs;
    if (window.kind == "hour" || options_.from_images) {
      RETURN_IF_ERROR(FromImages(window, &features, &inputs));
    } else {
      RETURN_IF_ERROR(Rollup(window, &features, &inputs));
    }
    if (Cancelled()) return absl::CancelledError("stopped by a signal before publishing");
    return BuildShard(std::move(features));
  }

 private:
  bool Cancelled() const { return options_.cancelled && options_.cancelled->load(); }

  void Progress(const std::string& step, int64_t total, int64_t done, int64_t failed) {
    if (!options_.on_progress) return;
    options_.on_progress(PipelineProgress{step, total, done, failed, watch_.ElapsedSeconds()});
  }

  void Timed(const std::string& step, Stopwatch& watch) {
    run_->step_seconds.emplace_back(step, watch.ElapsedSeconds());
    watch.Reset();
  }

  void Fail(const std::string& item_id, const std::string& reason) {
    ++run_->failure_count;
    if (run_->failures.size() < kMaxFailuresKept) run_->failures.emplace_back(item_id, reason);
  }

  absl::Status FromImages(const TimeWindow& window, Features* features,
                          std::map<std::string, std::string>* inputs) {
    if (options_.catalog.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat(window.name, " is built from images: give --catalog"));
    }
    Stopwatch step;
    ASSIGN_OR_RETURN(CatalogRead catalog,
                     IsPostgresUrl(options_.catalog)
                         ? ReadPostgresCatalog(options_.catalog, options_.catalog_query, window,
                                               options_.partition)
                         : ReadCatalog(options_.catalog, window, options_.partition));
    run_->catalog_items = static_cast<int64_t>(catalog.items.size());
    for (const std::string& rejected : catalog.rejected) Fail("(catalog)", rejected);
    Timed("catalog", step);
    (*inputs)["catalog"] = options_.catalog;
    (*inputs)["catalog_sha256"] = catalog.source_sha256;

    // Resume: the newest features of this window came from the same catalog.
    ASSIGN_OR_RETURN(std::optional<ArtifactManifest> previous, Newest(repo_, feature_key_));
    if (previous && previous->inputs.count("catalog_sha256") &&
        previous->inputs.at("catalog_sha256") == catalog.source_sha256 &&
        previous->inputs.at("catalog") == options_.catalog) {
      return Reuse(*previous, features, step);
    }

    // Fetch on the fetcher's threads, decode there too, embed in batches.
    ASSIGN_OR_RETURN(std::unique_ptr<Fetcher> fetcher, Fetcher::Create(options_.fetch));
    const size_t n = catalog.items.size();
    std::vector<std::string> urls;
    for (const CatalogItem& item : catalog.items) urls.push_back(item.image_url);
    struct Slot {
      std::future<BatchingEmbedder::Result> vector;
      std::string error;
    };
    std::vector<Slot> slots(n);
    std::atomic<int64_t> fetched{0}, failed{0};
    std::thread fetching([&] {
      fetcher->FetchAll(
          urls,
          [&](size_t i, absl::StatusOr<std::string> bytes) {
            absl::StatusOr<std::vector<float>> input =
                bytes.ok() ? embedder_.Prepare(*bytes) : bytes.status();
            if (input.ok()) {
              slots[i].vector = embedder_.Submit(std::move(*input));
            } else {
              slots[i].error = std::string(input.status().message());
              failed++;
            }
            fetched++;
          },
          options_.cancelled);
    });
    Stopwatch report;
    while (fetched.load() < static_cast<int64_t>(n) && !Cancelled()) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      if (report.ElapsedMs() >= 1000) {
        Progress("fetch+embed", n, fetched.load(), failed.load());
        report.Reset();
      }
    }
    fetching.join();
    if (Cancelled()) {
      for (Slot& slot : slots) {
        if (slot.vector.valid()) slot.vector.wait();
      }
      return absl::CancelledError("stopped by a signal during fetch and embed");
    }
    for (size_t i = 0; i < n; ++i) {
      if (!slots[i].vector.valid()) {
        Fail(catalog.items[i].item_id, slots[i].error);
        continue;
      }
      BatchingEmbedder::Result vector = slots[i].vector.get();
      if (!vector.ok()) {
        Fail(catalog.items[i].item_id, std::string(vector.status().message()));
        continue;
      }
      features->ids.push_back(catalog.items[i].item_id);
      features->vectors.insert(features->vectors.end(), vector->begin(), vector->end());
    }
    run_->embedded = static_cast<int64_t>(features->ids.size());
    Progress("fetch+embed", n, n, n - features->ids.size());
    Timed("fetch+embed", step);
    const double failed_fraction =
        n == 0 ? 0.0 : 1.0 - static_cast<double>(features->ids.size()) / n;
    if (failed_fraction > options_.max_failed_fraction) {
      return absl::FailedPreconditionError(absl::StrCat(
          n - features->ids.size(), " of ", n, " images failed, over the allowed fraction of ",
          options_.max_failed_fraction, "; nothing published"));
    }
    (*inputs)["images_failed"] = std::to_string(n - features->ids.size());
    RETURN_IF_ERROR(PublishFeatures(*features, *inputs));
    Timed("publish features", step);
    return absl::OkStatus();
  }

  absl::Status Rollup(const TimeWindow& window, Features* features,
                      std::map<std::string, std::string>* inputs) {
    Stopwatch step;
    std::vector<std::string> missing, used;
    std::vector<std::pair<ArtifactKey, ArtifactManifest>> children;
    for (const std::string& child : window.Children()) {
      ArtifactKey key = feature_key_;
      key.window = child;
      ASSIGN_OR_RETURN(std::optional<ArtifactManifest> newest, Newest(repo_, key));
      if (!newest) {
        missing.push_back(child);
        continue;
      }
      used.push_back(absl::StrCat(child, "@", newest->version));
      children.emplace_back(key, std::move(*newest));
    }
    if (!missing.empty()) {
      return absl::FailedPreconditionError(
          absl::StrCat(window.name, " is rolled up from its ", window.Children().size(), " ",
                       window.kind == "day" ? "hours" : "days", ", but ", missing.size(),
                       " have no features yet: ",
                       absl::StrJoin(missing.begin(),
                                     missing.begin() + std::min<size_t>(missing.size(), 6), ", "),
                       missing.size() > 6 ? ", ..." : "",
                       " (run them first, or build from images with --from-images --catalog ...)"));
    }
    (*inputs)["rollup_of"] = absl::StrJoin(used, ",");
    ASSIGN_OR_RETURN(std::optional<ArtifactManifest> previous, Newest(repo_, feature_key_));
    if (previous && previous->inputs.count("rollup_of") &&
        previous->inputs.at("rollup_of") == (*inputs)["rollup_of"]) {
      return Reuse(*previous, features, step);
    }
    std::map<std::string, size_t> row_of;  // an item listed twice keeps its last vector
    for (size_t c = 0; c < children.size(); ++c) {
      if (Cancelled()) return absl::CancelledError("stopped by a signal during the rollup");
      Features part;
      RETURN_IF_ERROR(Load(children[c].first, children[c].second, &part));
      for (size_t i = 0; i < part.ids.size(); ++i) {
        const float* row = part.vectors.data() + i * model_.dimension;
        auto [it, fresh] = row_of.try_emplace(part.ids[i], features->ids.size());
        if (fresh) {
          features->ids.push_back(part.ids[i]);
          features->vectors.insert(features->vectors.end(), row, row + model_.dimension);
        } else {
          std::memcpy(features->vectors.data() + it->second * model_.dimension, row,
                      sizeof(float) * model_.dimension);
        }
      }
      Progress("rollup", children.size(), c + 1, 0);
    }
    run_->from_rollup = static_cast<int64_t>(features->ids.size());
    Timed("rollup", step);
    RETURN_IF_ERROR(PublishFeatures(*features, *inputs));
    Timed("publish features", step);
    return absl::OkStatus();
  }

  // Takes the window's existing features instead of making them again.
  absl::Status Reuse(const ArtifactManifest& previous, Features* features, Stopwatch& step) {
    RETURN_IF_ERROR(Load(feature_key_, previous, features));
    run_->features_version = previous.version;
    run_->features_reused = true;
    run_->reused_features = static_cast<int64_t>(features->ids.size());
    Timed("features (reused)", step);
    return absl::OkStatus();
  }

  absl::Status Load(const ArtifactKey& key, const ArtifactManifest& manifest, Features* out) {
    if (manifest.dimension != model_.dimension) {
      return absl::FailedPreconditionError(absl::StrCat(key.Prefix(), manifest.version,
                                                        " has dimension ", manifest.dimension,
                                                        ", the model ", model_.dimension));
    }
    TempDir scratch(options_.work_dir, "features");
    ASSIGN_OR_RETURN(std::string dir, repo_.FetchVerified(key, manifest, scratch.path()));
    return ReadFeatures(dir, model_.dimension, &out->ids, &out->vectors);
  }

  absl::Status PublishFeatures(const Features& features,
                               std::map<std::string, std::string> inputs) {
    TempDir dir(options_.work_dir, "features");
    RETURN_IF_ERROR(WriteFileAtomic(dir.path() + "/" + Shard::kIdsFile, EncodeIds(features.ids)));
    RETURN_IF_ERROR(
        WriteFileAtomic(dir.path() + "/" + kVectorsFile,
                        std::string_view(reinterpret_cast<const char*>(features.vectors.data()),
                                         features.vectors.size() * sizeof(float))));
    ArtifactManifest manifest;
    manifest.dimension = model_.dimension;
    manifest.metric = model_.metric;
    manifest.item_count = static_cast<int64_t>(features.ids.size());
    inputs["run_id"] = run_->run_id;
    manifest.inputs = std::move(inputs);
    ASSIGN_OR_RETURN(ArtifactManifest published, repo_.Publish(feature_key_, std::move(manifest),
                                                               {dir.path() + "/" + Shard::kIdsFile,
                                                                dir.path() + "/" + kVectorsFile}));
    run_->features_version = published.version;
    return absl::OkStatus();
  }

  absl::Status BuildShard(Features features) {
    Stopwatch step;
    ASSIGN_OR_RETURN(std::optional<ArtifactManifest> previous, Newest(repo_, shard_key_));
    const std::string from = std::to_string(run_->features_version);
    if (previous && previous->inputs.count("features_version") &&
        previous->inputs.at("features_version") == from) {
      run_->shard_version = previous->version;
      run_->shard_reused = true;
      return absl::OkStatus();
    }
    ShardBuild build;
    build.key = shard_key_;
    build.dimension = model_.dimension;
    build.metric = model_.metric;
    build.index_spec = options_.index_spec;
    build.work_dir = options_.work_dir;
    build.inputs = {{"features_version", from}, {"run_id", run_->run_id}};
    Progress("build", features.ids.size(), 0, 0);
    ASSIGN_OR_RETURN(ArtifactManifest shard,
                     BuildAndPublishShard(repo_, build, features.ids, features.vectors));
    run_->shard_version = shard.version;
    Timed("build+publish shard", step);
    return absl::OkStatus();
  }

  PhotoEmbedder& embedder_;
  Repository& repo_;
  const PipelineOptions& options_;
  PipelineRun* run_;
  const ModelManifest& model_;
  ArtifactKey feature_key_, shard_key_;
  Stopwatch watch_;
};

}  // namespace

absl::Status ReadFeatures(const std::string& dir, int dimension, std::vector<std::string>* ids,
                          std::vector<float>* vectors) {
  ASSIGN_OR_RETURN(std::string id_bytes, ReadFile(dir + "/" + Shard::kIdsFile));
  ASSIGN_OR_RETURN(*ids, DecodeIds(id_bytes));
  ASSIGN_OR_RETURN(std::string raw, ReadFile(dir + "/" + kVectorsFile));
  if (raw.size() != ids->size() * dimension * sizeof(float)) {
    return absl::DataLossError(absl::StrCat(dir, ": ", raw.size(), " bytes of vectors for ",
                                            ids->size(), " ids of dimension ", dimension));
  }
  vectors->resize(ids->size() * dimension);
  std::memcpy(vectors->data(), raw.data(), raw.size());
  return absl::OkStatus();
}

std::string PipelineRun::ToJson(const PipelineOptions& options, const std::string& model_id) const {
  nlohmann::json j;
  j["run_id"] = run_id;
  j["status"] = status;
  if (!error.empty()) j["error"] = error;
  j["window"] = options.window;
  j["partition"] = absl::StrCat(options.partition.index, "/", options.partition.count);
  j["model"] = model_id;
  j["catalog"] = options.catalog;
  j["from_images"] = options.from_images;
  j["finished_at"] = NowRfc3339();
  j["counts"] = {{"catalog_items", catalog_items},
                 {"embedded", embedded},
                 {"reused_features", reused_features},
                 {"from_rollup", from_rollup},
                 {"failed", failure_count}};
  j["outputs"] = {{"features_version", features_version},
                  {"features_reused", features_reused},
                  {"shard_version", shard_version},
                  {"shard_reused", shard_reused}};
  nlohmann::json f = nlohmann::json::array();
  for (const auto& [id, reason] : failures) f.push_back({{"item_id", id}, {"reason", reason}});
  j["failures"] = f;
  nlohmann::json steps = nlohmann::json::array();
  for (const auto& [name, seconds] : step_seconds)
    steps.push_back({{"step", name}, {"seconds", seconds}});
  j["steps"] = steps;
  return j.dump(2) + "\n";
}

absl::StatusOr<PipelineRun> RunPipeline(PhotoEmbedder& embedder, Repository& repository,
                                        const PipelineOptions& options) {
  ASSIGN_OR_RETURN(TimeWindow window, ParseTimeWindow(options.window));
  if (options.partition.count < 1 || options.partition.index < 0 ||
      options.partition.index >= options.partition.count) {
    return absl::InvalidArgumentError("partition out of range");
  }
  PipelineRun run;
  run.run_id = NewRunId(window.name, options.partition);
  Runner runner(embedder, repository, options, &run);
  absl::Status status = runner.Execute(window);
  run.status = status.ok() ? "succeeded" : absl::IsCancelled(status) ? "cancelled" : "failed";
  if (!status.ok()) run.error = std::string(status.message());
  RETURN_IF_ERROR(repository.store().Put(absl::StrCat("runs/", run.run_id, ".json"),
                                         run.ToJson(options, embedder.manifest().id)));
  return run;
}

}  // namespace photosearch
