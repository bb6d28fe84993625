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
#include "base/json_fields.h"
#include "base/sha256.h"
#include "base/status_macros.h"
#include "base/stopwatch.h"
#include "index/shard.h"
#include "absl/strings/numbers.h"
#include "artifact/features.h"
#include "artifact/tombstone_log.h"
#include "model/photo_batch.h"
#include "nlohmann/json.hpp"
#include "pipeline/dag.h"
#include "pipeline/shard_builder.h"

namespace photosearch {
namespace {

namespace fs = std::filesystem;

constexpr size_t kMaxFailuresKept = 1000;
// A shard manifest's input: how many rows tombstones left out of it.
constexpr char kTombstonedRows[] = "tombstoned_rows";

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

// What the steps make; each step writes only its own output, and reads its
// inputs after the steps that made them have returned (RunDag's guarantee).
struct CatalogOut {
  CatalogRead read;
  int64_t read_at_ms = 0;  // when the read began: it reflects every event before
};
struct ModelOut {
  PhotoEmbedder* embedder = nullptr;
  std::unique_ptr<PhotoEmbedder> owned;
};
struct ImagesOut {
  const CatalogOut* catalog = nullptr;
  std::unique_ptr<Fetcher> fetcher;
};
struct VectorsOut {
  std::string source_key;
  std::map<std::string, std::string> inputs;  // provenance for the feature manifest
  FeatureSet features;
  bool reused = false;  // the window's features with this source key exist
  int64_t version = 0;  // of those
};
struct FeaturesOut {
  int64_t version = 0;
};
struct IndexOut {
  std::optional<BuiltShard> built;
  bool reused = false;
  int64_t version = 0;  // of the reused shard
};
struct Outputs {
  CatalogOut catalog;
  ModelOut model;
  ImagesOut images;
  VectorsOut vectors;
  FeaturesOut features;
  IndexOut index;
};

class Runner {
 public:
  Runner(const PipelineModel& model, Repository& repo, const PipelineOptions& options,
         const TimeWindow& window, PipelineRun* run)
      : model_(model), repo_(repo), options_(options), window_(window), run_(run) {
    feature_key_ = ArtifactKey{"feature", model_.manifest.id, window.name, options_.partition.index,
                               options_.partition.count};
    shard_key_ = ArtifactKey{"shard", model_.manifest.id, window.name, options_.partition.index,
                             options_.partition.count};
  }

  // Plans the config for this window and runs it.
  absl::Status Execute() {
    run_->mode = window_.kind == "hour" || options_.from_images ? "images" : "rollup";
    ASSIGN_OR_RETURN(std::vector<PlannedStep> plan, PlanPipeline(options_.config, run_->mode));
    plan_ = std::move(plan);
    for (const PlannedStep& step : plan_) outputs_[step.config.name];  // before any thread
    std::vector<DagStep> dag;
    for (const PlannedStep& step : plan_) {
      ASSIGN_OR_RETURN(std::function<absl::Status()> fn, Bind(step));
      dag.push_back(DagStep{step.config.name, step.needs, std::move(fn)});
    }
    DagRun result = RunDag(dag, options_.cancelled);
    for (size_t i = 0; i < plan_.size(); ++i) {
      const DagStepResult& r = result.steps[i];
      PipelineStepRecord record;
      record.name = r.name;
      record.uses = plan_[i].config.uses;
      record.state = r.state;
      record.started_seconds = r.started_seconds;
      record.seconds = r.seconds;
      if (!r.status.ok()) record.error = std::string(r.status.message());
      if (plan_[i].output == "vectors" && r.state == "succeeded") {
        const VectorsOut& vectors = outputs_[r.name].vectors;
        run_->inputs = vectors.inputs;
        run_->inputs["source_key"] = vectors.source_key;
      }
      auto note = notes_.find(r.name);
      if (note != notes_.end()) record.note = note->second;
      run_->steps.push_back(std::move(record));
    }
    return result.status;
  }

 private:
  // The step's function, its parameters checked now (before anything runs).
  absl::StatusOr<std::function<absl::Status()>> Bind(const PlannedStep& step) {
    const std::string& uses = step.config.uses;
    Outputs* out = &outputs_[step.config.name];
    auto in = [this, &step](const std::string& type) -> Outputs* {
      return &outputs_[step.input_from.at(type)];
    };
    if (uses == "catalog") {
      if (options_.catalog.empty()) {
        return absl::InvalidArgumentError(absl::StrCat(
            window_.name, " is built from images: give --catalog (or catalog: in the config)"));
      }
      return [this, out] { return ReadCatalogStep(&out->catalog); };
    }
    if (uses == "model") return [this, out] { return ModelStep(&out->model); };
    if (uses == "fetch") {
      FetchOptions fetch = options_.fetch;
      const StepConfig& c = step.config;
      ASSIGN_OR_RETURN(fetch.concurrency, IntParam(c, "concurrency", fetch.concurrency, 1, 256));
      ASSIGN_OR_RETURN(fetch.attempts, IntParam(c, "attempts", fetch.attempts, 1, 10));
      ASSIGN_OR_RETURN(fetch.timeout_seconds,
                       IntParam(c, "timeout_seconds", fetch.timeout_seconds, 1, 600));
      ASSIGN_OR_RETURN(int64_t max_mb, IntParam(c, "max_mb", fetch.max_bytes >> 20, 1, 1024));
      fetch.max_bytes = static_cast<uint64_t>(max_mb) << 20;
      ASSIGN_OR_RETURN(int64_t cache_gb,
                       IntParam(c, "cache_gb", fetch.cache_max_bytes >> 30, 1, 100000));
      fetch.cache_max_bytes = static_cast<uint64_t>(cache_gb) << 30;
      fetch.cache_dir = StringParam(c, "cache_dir", fetch.cache_dir);
      fetch.file_root = StringParam(c, "file_root", fetch.file_root);
      Outputs* catalog = in("catalog");
      const bool streamed = step.has_consumers;
      const std::string name = step.config.name;
      return [this, out, catalog, fetch, streamed, name] {
        return FetchStep(name, fetch, &catalog->catalog, streamed, &out->images);
      };
    }
    if (uses == "embed") {
      EmbedParams params;
      ASSIGN_OR_RETURN(params.max_failed, DoubleParam(step.config, "max_failed_fraction",
                                                      options_.max_failed_fraction, 0, 1));
      absl::StatusOr<DetectPolicy> policy =
          ParseDetectPolicy(StringParam(step.config, "detect", options_.detect));
      if (!policy.ok()) {
        return Annotate(policy.status(), absl::StrCat("step '", step.config.name, "'"));
      }
      params.detect = *policy;
      params.detector = StringParam(step.config, "detector", options_.detector);
      if (params.detect != DetectPolicy::kWhole && params.detector.empty()) {
        return absl::InvalidArgumentError(
            absl::StrCat("step '", step.config.name, "': detect=", DetectPolicyName(params.detect),
                         " needs a detector (with: {detector: models/yolox_nano})"));
      }
      Outputs* images = in("images");
      Outputs* model = in("model");
      const std::string name = step.config.name;
      return [this, out, images, model, params, name] {
        return EmbedStep(name, images->images, model->model, params, &out->vectors);
      };
    }
    if (uses == "rollup") {
      const std::string name = step.config.name;
      return [this, out, name] { return RollupStep(name, &out->vectors); };
    }
    if (uses == "publish-features") {
      Outputs* vectors = in("vectors");
      return [this, out, vectors] { return PublishFeaturesStep(vectors->vectors, &out->features); };
    }
    if (uses == "build") {
      const std::string spec = StringParam(step.config, "index", options_.index_spec);
      if (spec != "auto") {
        if (absl::StatusOr<IndexSpec> parsed = ParseIndexSpec(spec); !parsed.ok()) {
          return Annotate(parsed.status(), absl::StrCat("step '", step.config.name, "'"));
        }
      }
      Outputs* vectors = in("vectors");
      const std::string name = step.config.name;
      return [this, out, vectors, spec, name] {
        return BuildStep(name, vectors->vectors, spec, &out->index);
      };
    }
    if (uses == "publish-shard") {
      Outputs* index = in("index");
      Outputs* features = in("features");
      return [this, index, features] { return PublishShardStep(index->index, features->features); };
    }
    return absl::InternalError("step kind without an implementation: " + uses);
  }

  bool Cancelled() const { return options_.cancelled && options_.cancelled->load(); }

  void Progress(const std::string& step, int64_t total, int64_t done, int64_t failed) {
    if (!options_.on_progress) return;
    std::lock_guard<std::mutex> lock(mu_);
    options_.on_progress(PipelineProgress{step, total, done, failed, watch_.ElapsedSeconds()});
  }

  void Note(const std::string& step, const std::string& note) {
    std::lock_guard<std::mutex> lock(mu_);
    notes_[step] = note;
  }

  void Fail(const std::string& item_id, const std::string& reason) {
    std::lock_guard<std::mutex> lock(mu_);
    ++run_->failure_count;
    if (run_->failures.size() < kMaxFailuresKept) run_->failures.emplace_back(item_id, reason);
  }

  absl::Status ReadCatalogStep(CatalogOut* out) {
    out->read_at_ms = NowUnixMillis();
    ASSIGN_OR_RETURN(out->read, IsPostgresUrl(options_.catalog)
                                    ? ReadPostgresCatalog(options_.catalog, options_.catalog_query,
                                                          window_, options_.partition)
                                    : ReadCatalog(options_.catalog, window_, options_.partition));
    run_->catalog_items = static_cast<int64_t>(out->read.items.size());
    for (const std::string& rejected : out->read.rejected) Fail("(catalog)", rejected);
    return absl::OkStatus();
  }

  absl::Status ModelStep(ModelOut* out) {
    if (model_.embedder) {
      out->embedder = model_.embedder;
      return absl::OkStatus();
    }
    if (!model_.load) return absl::FailedPreconditionError("no model to embed with");
    ASSIGN_OR_RETURN(out->owned, model_.load());
    if (out->owned->manifest().id != model_.manifest.id) {
      return absl::FailedPreconditionError(absl::StrCat("loaded model ", out->owned->manifest().id,
                                                        ", expected ", model_.manifest.id));
    }
    out->embedder = out->owned.get();
    return absl::OkStatus();
  }

  // With a consumer, only opens the fetcher: embed pulls the images through
  // it as fast as it embeds them. Without one, fills the cache now.
  absl::Status FetchStep(const std::string& name, const FetchOptions& fetch,
                         const CatalogOut* catalog, bool streamed, ImagesOut* out) {
    out->catalog = catalog;
    ASSIGN_OR_RETURN(out->fetcher, Fetcher::Create(fetch));
    if (streamed) {
      Note(name, "images stream into the step that takes them");
      return absl::OkStatus();
    }
    const std::vector<CatalogItem>& items = catalog->read.items;
    std::vector<std::string> urls;
    for (const CatalogItem& item : items) urls.push_back(item.image_url);
    std::atomic<int64_t> done{0}, failed{0};
    std::mutex mu;
    out->fetcher->FetchAll(
        urls,
        [&](size_t i, absl::StatusOr<std::string> bytes) {
          if (!bytes.ok()) {
            failed++;
            Fail(items[i].item_id, std::string(bytes.status().message()));
          }
          if (++done % 100 == 0) Progress(name, urls.size(), done.load(), failed.load());
        },
        options_.cancelled);
    RecordFetchStats(*out->fetcher);
    if (Cancelled()) return absl::CancelledError("stopped by a signal during fetch");
    Note(name, absl::StrCat(done.load() - failed.load(), " images in the cache, ", failed.load(),
                            " failed"));
    return absl::OkStatus();
  }

  void RecordFetchStats(const Fetcher& fetcher) {
    run_->downloads = fetcher.stats().downloads.load();
    run_->cache_hits = fetcher.stats().cache_hits.load();
    run_->retries = fetcher.stats().retries.load();
    run_->bytes_downloaded = fetcher.stats().bytes.load();
  }

  // Reuses the window's newest features if they have this source key.
  absl::StatusOr<bool> TryReuse(const std::string& name, VectorsOut* out) {
    ASSIGN_OR_RETURN(std::optional<ArtifactManifest> previous, Newest(repo_, feature_key_));
    if (!previous || !previous->inputs.count("source_key") ||
        previous->inputs.at("source_key") != out->source_key) {
      return false;
    }
    RETURN_IF_ERROR(Load(feature_key_, *previous, &out->features));
    out->reused = true;
    out->version = previous->version;
    run_->features_reused = true;
    run_->reused_features = static_cast<int64_t>(out->features.ids.size());
    Note(name, absl::StrCat("reused ", feature_key_.Prefix(), previous->version,
                            ": same source, nothing fetched or embedded"));
    return true;
  }

  struct EmbedParams {
    double max_failed = 0.05;
    DetectPolicy detect = DetectPolicy::kWhole;
    std::string detector;  // manifest path, for detect != kWhole
  };

  absl::Status EmbedStep(const std::string& name, const ImagesOut& images, const ModelOut& model,
                         const EmbedParams& params, VectorsOut* out) {
    const double max_failed = params.max_failed;
    const CatalogRead& catalog = images.catalog->read;
    out->inputs["catalog"] = options_.catalog;
    out->inputs["catalog_sha256"] = catalog.source_sha256;
    // The live shard hands a listing over only to a shard built from a
    // catalog read after the listing's event (see src/ingest/).
    out->inputs[kCatalogReadAtMs] = std::to_string(images.catalog->read_at_ms);
    out->inputs["catalog_read_at"] = FormatRfc3339Millis(images.catalog->read_at_ms);
    std::string regions = "whole";
    if (params.detect != DetectPolicy::kWhole) {
      ASSIGN_OR_RETURN(DetectorManifest detector_manifest, LoadDetectorManifest(params.detector));
      regions = absl::StrCat(DetectPolicyName(params.detect), " by ", detector_manifest.id);
      out->inputs["detect"] = regions;
    }
    out->source_key = Sha256Hex(
        absl::StrCat("images\n", model_.manifest.id, "\n", options_.catalog, "\n",
                     catalog.source_sha256, "\n", options_.partition.index, "/",
                     options_.partition.count, regions == "whole" ? "" : "\nregions: " + regions));
    ASSIGN_OR_RETURN(bool reused, TryReuse(name, out));
    if (reused) return absl::OkStatus();
    std::unique_ptr<Detector> detector;
    if (params.detect != DetectPolicy::kWhole) {
      ASSIGN_OR_RETURN(detector, Detector::Load(params.detector));
    }

    // Listings deleted already are not fetched or embedded.
    RETURN_IF_ERROR(ReadTombstones());
    std::vector<const CatalogItem*> todo;
    int64_t deleted = 0;
    for (const CatalogItem& item : catalog.items) {
      if (tombstones_.Hides(item.item_id, item.listed_at)) {
        ++deleted;
      } else {
        todo.push_back(&item);
      }
    }
    AddTombstoned(deleted);

    // Fetch on the fetcher's threads, decode (and detect) there too, embed
    // in batches; collect in catalog order.
    PhotoEmbedder& embedder = *model.embedder;
    const size_t n = todo.size();
    std::vector<std::string> urls;
    for (const CatalogItem* item : todo) urls.push_back(item->image_url);
    PhotoBatch batch(embedder, detector.get(), params.detect, n);
    std::thread fetching([&] {
      images.fetcher->FetchAll(
          urls, [&](size_t i, absl::StatusOr<std::string> bytes) { batch.Add(i, std::move(bytes)); },
          options_.cancelled);
      batch.Close();  // a cancelled FetchAll leaves photos that never come
    });
    FeatureSet& features = out->features;
    int64_t items = 0, failed = 0;
    absl::Status model_error;
    Stopwatch report;
    for (size_t i = 0; i < n && !Cancelled(); ++i) {
      EmbeddedPhoto photo = batch.Take(i);
      const CatalogItem& item = *todo[i];
      if (photo.model_failed) {
        if (model_error.ok()) model_error = photo.status;
        continue;
      }
      if (!photo.status.ok()) {
        Fail(item.item_id, std::string(photo.status.message()));
        ++failed;
        continue;
      }
      for (const std::vector<float>& vector : photo.vectors) {
        features.ids.push_back(item.item_id);
        features.vectors.insert(features.vectors.end(), vector.begin(), vector.end());
        features.listed_at.push_back(item.listed_at);
      }
      ++items;
      if (report.ElapsedMs() >= 1000) {
        Progress(name, n, batch.added(), failed);
        report.Reset();
      }
    }
    fetching.join();
    RecordFetchStats(*images.fetcher);
    if (Cancelled()) return absl::CancelledError("stopped by a signal during fetch and embed");
    // The model failed (not the photos): nothing is published, the run fails.
    if (!model_error.ok()) return Annotate(model_error, "embedding");
    run_->embedded = items;
    Progress(name, n, n, n - items);
    const double failed_fraction = n == 0 ? 0.0 : 1.0 - static_cast<double>(items) / n;
    if (failed_fraction > max_failed) {
      return absl::FailedPreconditionError(
          absl::StrCat(n - items, " of ", n, " images failed, over the allowed fraction of ",
                       max_failed, "; nothing published"));
    }
    out->inputs["images_failed"] = std::to_string(n - items);
    Note(name,
         absl::StrCat(items, " embedded (", features.ids.size(), " vectors, regions: ", regions,
                      "); fetched ", run_->downloads, ", from the cache ", run_->cache_hits));
    return absl::OkStatus();
  }

  absl::Status RollupStep(const std::string& name, VectorsOut* out) {
    std::vector<std::string> missing, used;
    std::vector<std::pair<ArtifactKey, ArtifactManifest>> children;
    for (const std::string& child : window_.Children()) {
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
          absl::StrCat(window_.name, " is rolled up from its ", window_.Children().size(), " ",
                       window_.kind == "day" ? "hours" : "days", ", but ", missing.size(),
                       " have no features yet: ",
                       absl::StrJoin(missing.begin(),
                                     missing.begin() + std::min<size_t>(missing.size(), 6), ", "),
                       missing.size() > 6 ? ", ..." : "",
                       " (run them first, or build from images with --from-images --catalog ...)"));
    }
    out->inputs["rollup_of"] = absl::StrJoin(used, ",");
    // As old as the oldest child's catalog read (unknown if any child's is).
    int64_t oldest_read = INT64_MAX;
    for (const auto& [key, manifest] : children) {
      auto read = manifest.inputs.find(kCatalogReadAtMs);
      int64_t ms = 0;
      if (read == manifest.inputs.end() || !absl::SimpleAtoi(read->second, &ms)) {
        oldest_read = 0;
        break;
      }
      oldest_read = std::min(oldest_read, ms);
    }
    if (oldest_read > 0 && oldest_read != INT64_MAX) {
      out->inputs[kCatalogReadAtMs] = std::to_string(oldest_read);
      out->inputs["catalog_read_at"] = FormatRfc3339Millis(oldest_read);
    }
    out->source_key = Sha256Hex(absl::StrCat("rollup\n", out->inputs["rollup_of"]));
    ASSIGN_OR_RETURN(bool reused, TryReuse(name, out));
    if (reused) return absl::OkStatus();
    FeatureSet& features = out->features;
    const int dimension = model_.manifest.dimension;
    // An item in several children keeps the vectors of the last one (one, or
    // one per region when indexed with detection).
    std::vector<FeatureSet> parts(children.size());
    std::map<std::string, size_t> last_child;
    for (size_t c = 0; c < children.size(); ++c) {
      if (Cancelled()) return absl::CancelledError("stopped by a signal during the rollup");
      RETURN_IF_ERROR(Load(children[c].first, children[c].second, &parts[c]));
      for (const std::string& id : parts[c].ids) last_child[id] = c;
      Progress(name, children.size(), c + 1, 0);
    }
    for (size_t c = 0; c < parts.size(); ++c) {
      for (size_t i = 0; i < parts[c].ids.size(); ++i) {
        if (last_child[parts[c].ids[i]] != c) continue;
        features.AppendRow(parts[c], i, dimension);
      }
      parts[c] = FeatureSet();  // free as we go
    }
    run_->from_rollup = static_cast<int64_t>(features.ids.size());
    Note(name, absl::StrCat(features.ids.size(), " items from ", children.size(), " ",
                            window_.kind == "day" ? "hours" : "days"));
    return absl::OkStatus();
  }

  absl::Status Load(const ArtifactKey& key, const ArtifactManifest& manifest, FeatureSet* out) {
    ASSIGN_OR_RETURN(*out, LoadFeatures(repo_, key, manifest, model_.manifest.dimension,
                                        options_.work_dir));
    if (out->listed_at.empty()) {
      // Written before features kept listing times: the window's start stands
      // in (a delete inside the window then hides every copy of the item).
      absl::StatusOr<TimeWindow> window = ParseTimeWindow(key.window);
      out->listed_at.assign(out->rows(), window.ok() ? window->begin : 0);
    }
    return absl::OkStatus();
  }

  absl::Status PublishFeaturesStep(const VectorsOut& vectors, FeaturesOut* out) {
    if (vectors.reused) {
      out->version = vectors.version;
      run_->features_version = vectors.version;
      return absl::OkStatus();
    }
    if (Cancelled()) return absl::CancelledError("stopped by a signal before publishing");
    ArtifactManifest manifest;
    manifest.dimension = model_.manifest.dimension;
    manifest.metric = model_.manifest.metric;
    manifest.inputs = vectors.inputs;
    manifest.inputs["source_key"] = vectors.source_key;
    manifest.inputs["run_id"] = run_->run_id;
    ASSIGN_OR_RETURN(ArtifactManifest published,
                     PublishFeatures(repo_, feature_key_, std::move(manifest), vectors.features,
                                     options_.work_dir));
    out->version = published.version;
    run_->features_version = published.version;
    return absl::OkStatus();
  }

  absl::Status BuildStep(const std::string& name, const VectorsOut& vectors,
                         const std::string& spec, IndexOut* out) {
    // Deleted listings are left out of the shard, also when its vectors were
    // embedded before the delete (reused features, a rollup's children).
    RETURN_IF_ERROR(ReadTombstones());
    Filtered kept = WithoutDeleted(vectors.features);
    ASSIGN_OR_RETURN(std::optional<ArtifactManifest> previous, Newest(repo_, shard_key_));
    if (previous && previous->inputs.count("source_key") &&
        previous->inputs.at("source_key") == vectors.source_key &&
        previous->inputs.count(kTombstonedRows) &&
        previous->inputs.at(kTombstonedRows) == std::to_string(kept.rows_removed)) {
      // (Tombstones only add: the same count left out is the same rows.)
      out->reused = true;
      out->version = previous->version;
      AddTombstoned(kept.items_removed);
      Note(name, absl::StrCat("reused ", shard_key_.Prefix(), previous->version));
      return absl::OkStatus();
    }
    ShardBuild build;
    build.key = shard_key_;
    build.dimension = model_.manifest.dimension;
    build.metric = model_.manifest.metric;
    build.index_spec = spec;
    build.work_dir = options_.work_dir;
    build.inputs = {{"source_key", vectors.source_key}, {"run_id", run_->run_id}};
    for (const char* key : {kCatalogReadAtMs, "catalog_read_at"}) {
      if (auto it = vectors.inputs.find(key); it != vectors.inputs.end()) build.inputs[key] = it->second;
    }
    Progress(name, vectors.features.ids.size(), 0, 0);
    // A delete that arrives while the index builds is honoured too: look
    // again after building, and build again without what it hides.
    std::optional<BuiltShard> built;
    int64_t deleted_during_build = 0;
    for (int attempt = 0;; ++attempt) {
      build.inputs[kTombstonedRows] = std::to_string(kept.rows_removed);
      build.inputs["tombstones_through"] = std::to_string(tombstone_cursor_.next - 1);
      ASSIGN_OR_RETURN(built, BuildShardFiles(build, kept.features.ids, kept.features.vectors,
                                              kept.features.listed_at));
      StallForTests();
      RETURN_IF_ERROR(ReadTombstones());
      Filtered again = WithoutDeleted(vectors.features);
      if (again.rows_removed == kept.rows_removed || attempt == 3) break;
      deleted_during_build += again.items_removed - kept.items_removed;
      kept = std::move(again);
    }
    AddTombstoned(kept.items_removed);
    Note(name, absl::StrCat(
                   built->manifest.index, ", ", built->manifest.item_count, " items",
                   kept.items_removed > 0 ? absl::StrCat(", ", kept.items_removed, " deleted left out")
                                          : "",
                   deleted_during_build > 0
                       ? absl::StrCat(" (built again: ", deleted_during_build,
                                      " deleted while it was building)")
                       : ""));
    out->built = std::move(*built);
    return absl::OkStatus();
  }

  // The rows of `features` that no tombstone hides.
  struct Filtered {
    FeatureSet features;
    int64_t rows_removed = 0, items_removed = 0;
  };
  Filtered WithoutDeleted(const FeatureSet& features) {
    Filtered out;
    const int dimension = model_.manifest.dimension;
    std::string last_removed;
    for (size_t row = 0; row < features.rows(); ++row) {
      const int64_t listed_at = features.listed_at.empty() ? window_.begin : features.listed_at[row];
      if (tombstones_.Hides(features.ids[row], listed_at)) {
        ++out.rows_removed;
        if (features.ids[row] != last_removed) ++out.items_removed;  // an item's rows are adjacent
        last_removed = features.ids[row];
        continue;
      }
      out.features.AppendRow(features, row, dimension);
    }
    if (out.features.listed_at.empty() && out.features.rows() > 0 && features.listed_at.empty()) {
      out.features.listed_at.assign(out.features.rows(), window_.begin);
    }
    return out;
  }

  // Reads the repository's new tombstones into tombstones_.
  absl::Status ReadTombstones() {
    std::lock_guard<std::mutex> lock(tombstone_mu_);
    absl::StatusOr<int> read = tombstone_log_.CatchUp(&tombstones_, &tombstone_cursor_);
    if (!read.ok()) return Annotate(read.status(), "reading tombstones");
    return absl::OkStatus();
  }

  void AddTombstoned(int64_t items) {
    std::lock_guard<std::mutex> lock(mu_);
    run_->tombstoned += items;
  }

  // PHOTOSEARCH_TEST_STALL_BUILD_MS: the build step waits this long after
  // building, so a test can delete during a run.
  static void StallForTests() {
    const char* stall = std::getenv("PHOTOSEARCH_TEST_STALL_BUILD_MS");
    int ms = 0;
    if (stall && absl::SimpleAtoi(stall, &ms) && ms > 0 && ms <= 600000) {
      std::this_thread::sleep_for(std::chrono::milliseconds(ms));
    }
  }

  absl::Status PublishShardStep(const IndexOut& index, const FeaturesOut& features) {
    if (index.reused) {
      run_->shard_version = index.version;
      run_->shard_reused = true;
      return absl::OkStatus();
    }
    if (Cancelled()) return absl::CancelledError("stopped by a signal before publishing");
    ASSIGN_OR_RETURN(ArtifactManifest shard,
                     PublishBuiltShard(repo_, shard_key_, *index.built,
                                       {{"features_version", std::to_string(features.version)}}));
    run_->shard_version = shard.version;
    return absl::OkStatus();
  }

  // Constant after construction.
  const PipelineModel& model_;
  Repository& repo_;
  const PipelineOptions& options_;
  const TimeWindow window_;
  PipelineRun* const run_;
  ArtifactKey feature_key_, shard_key_;
  std::vector<PlannedStep> plan_;
  std::map<std::string, Outputs> outputs_;  // entries made before the steps run
  Stopwatch watch_;

  std::mutex mu_;  // guards the failures and counts in run_, notes_ and on_progress calls
  std::map<std::string, std::string> notes_;

  // The repository's tombstones, read when embedding and building start and
  // again after building.
  TombstoneLog tombstone_log_{&repo_.store()};
  std::mutex tombstone_mu_;  // serialises reads into the set
  TombstoneSet tombstones_;
  TombstoneCursor tombstone_cursor_;
};

}  // namespace

absl::StatusOr<PipelineRun> RunPipeline(const PipelineModel& model, Repository& repository,
                                        const PipelineOptions& options) {
  ASSIGN_OR_RETURN(TimeWindow window, ParseTimeWindow(options.window));
  if (options.partition.count < 1 || options.partition.index < 0 ||
      options.partition.index >= options.partition.count) {
    return absl::InvalidArgumentError("partition out of range");
  }
  PipelineRun run;
  run.run_id = NewRunId(window.name, options.partition);
  run.window = options.window;
  run.partition = absl::StrCat(options.partition.index, "/", options.partition.count);
  run.model = model.manifest.id;
  run.catalog = options.catalog;
  run.from_images = options.from_images;
  run.config = options.config.origin;
  run.config_sha256 = PipelineConfigHash(options.config);
  Runner runner(model, repository, options, window, &run);
  absl::Status status = runner.Execute();
  run.status = status.ok() ? "succeeded" : absl::IsCancelled(status) ? "cancelled" : "failed";
  if (!status.ok()) run.error = std::string(status.message());
  RETURN_IF_ERROR(WriteRunRecord(repository.store(), run));
  return run;
}

absl::StatusOr<PipelineRun> RunPipeline(PhotoEmbedder& embedder, Repository& repository,
                                        const PipelineOptions& options) {
  PipelineModel model;
  model.manifest = embedder.manifest();
  model.embedder = &embedder;
  return RunPipeline(model, repository, options);
}

}  // namespace photosearch
