// Pipeline throughput with a cold and a warm image cache against the model's
// own throughput, and a daily rollup from hourly features against rebuilding
// the day from images, in one run.
//
//   bench_pipeline [--photos DIR] [--limit 1200]
//
// A local HTTP server (127.0.0.1) serves the photos; the catalog lists them in
// hour 05 of 2026-11-22 (the other 23 hours are empty). The model runs as
// `photosearch pipeline run` runs it: one single-threaded replica per core.
// 1. model only: the same replicas embed the pre-decoded photos (batched);
// 2. pipeline, cold cache: catalog -> fetch -> decode -> embed -> publish;
// 3. pipeline, warm cache: the same into a fresh repository (no download);
// 4. day rollup from the 24 hourly feature artifacts vs the day from images
//    (warm cache).
#include <httplib.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <future>
#include <thread>

#include "artifact/repository.h"
#include "base/files.h"
#include "base/stopwatch.h"
#include "model/photo_embedder.h"
#include "nlohmann/json.hpp"
#include "pipeline/folder_indexer.h"
#include "pipeline/window_pipeline.h"
#include "support/test_env.h"

using namespace photosearch;

int main(int argc, char** argv) {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  std::string photos = testing::AssetsDir() + "/photos/grocery_store/test";
  int limit = 1200;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string flag = argv[i];
    if (flag == "--photos")
      photos = argv[i + 1];
    else if (flag == "--limit")
      limit = std::atoi(argv[i + 1]);
    else {
      std::fprintf(stderr, "unknown flag %s\n", flag.c_str());
      return 2;
    }
  }
  int64_t ignored = 0;
  std::vector<std::string> list = *ListPhotos(photos, &ignored);
  if (static_cast<int>(list.size()) > limit) list.resize(limit);

  httplib::Server server;
  server.Get(R"(/photo/(.+))", [&](const httplib::Request& req, httplib::Response& res) {
    auto bytes = ReadFile(photos + "/" + req.matches[1].str());
    if (!bytes.ok()) {
      res.status = 404;
      return;
    }
    res.set_content(*bytes, "image/jpeg");
  });
  const int port = server.bind_to_any_port("127.0.0.1");
  std::thread serving([&] { server.listen_after_bind(); });
  while (!server.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));

  testing::ScratchDir dir;
  std::string catalog;
  for (const std::string& p : list) {
    catalog +=
        nlohmann::json{{"item_id", p},
                       {"image_url", "http://127.0.0.1:" + std::to_string(port) + "/photo/" + p},
                       {"listed_at", "2026-11-22T05:30:00Z"}}
            .dump() +
        "\n";
  }
  (void)WriteFileAtomic(dir / "catalog.jsonl", catalog);

  PhotoEmbedderOptions options;
  const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  options.replicas = cores;
  options.embedder.threads = 1;
  options.embedder.calibrate_max_batch = 32;
  auto embedder = PhotoEmbedder::Load(testing::DefaultModel(), options);
  if (!embedder.ok()) {
    std::fprintf(stderr, "%s\n", std::string(embedder.status().message()).c_str());
    return 1;
  }
  // 1. Model only, through the same batching replicas, on pre-decoded photos.
  std::vector<std::vector<float>> tensors;
  for (size_t i = 0; i < std::min<size_t>(list.size(), 600); ++i) {
    tensors.push_back(*(*embedder)->Prepare(*ReadFile(photos + "/" + list[i])));
  }
  Stopwatch watch;
  std::vector<std::future<BatchingEmbedder::Result>> futures;
  for (const auto& t : tensors) futures.push_back((*embedder)->Submit(t));
  for (auto& f : futures) (void)f.get();
  const double model_rate = tensors.size() / watch.ElapsedSeconds();
  tensors.clear();

  auto run = [&](const std::string& repo_dir, const std::string& window, bool from_images,
                 const std::string& cache) {
    Repository repo(NewLocalStore(repo_dir));
    PipelineOptions p;
    p.catalog = dir / "catalog.jsonl";
    p.window = window;
    p.from_images = from_images;
    p.fetch.cache_dir = cache;
    Stopwatch w;
    auto r = RunPipeline(**embedder, repo, p);
    if (!r.ok() || r->status != "succeeded") {
      std::fprintf(stderr, "run %s failed: %s\n", window.c_str(),
                   r.ok() ? r->error.c_str() : std::string(r.status().message()).c_str());
      std::exit(1);
    }
    return std::make_pair(w.ElapsedSeconds(), *r);
  };
  auto [cold_s, cold] = run(dir / "repo-cold", "hour/2026-11-22T05", false, dir / "cache");
  auto [warm_s, warm] = run(dir / "repo-warm", "hour/2026-11-22T05", false, dir / "cache");
  const double cold_rate = cold.embedded / cold_s, warm_rate = warm.embedded / warm_s;

  for (const std::string& h : ParseTimeWindow("day/2026-11-22")->Children()) {
    if (h != "hour/2026-11-22T05") run(dir / "repo-warm", h, false, dir / "cache");
  }
  // The rollup takes well under a second: time it 5 times, each into its own
  // copy of the hours' repository, and take the median.
  std::vector<std::pair<double, PipelineRun>> rollups;
  for (int r = 0; r < 5; ++r) {
    const std::string copy = dir / ("repo-rollup-" + std::to_string(r));
    std::filesystem::copy(dir / "repo-warm", copy, std::filesystem::copy_options::recursive);
    rollups.push_back(run(copy, "day/2026-11-22", false, dir / "cache"));
  }
  std::sort(rollups.begin(), rollups.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  auto [rollup_s, rollup] = rollups[rollups.size() / 2];
  auto [direct_s, direct] = run(dir / "repo-direct", "day/2026-11-22", true, dir / "cache");

  std::printf("%zu photos, model %s, %d replicas x 1 thread\n", list.size(),
              (*embedder)->manifest().id.c_str(), cores);
  std::printf("model only (batched, pre-decoded):      %7.1f images/s\n", model_rate);
  std::printf("pipeline hour, cold cache (HTTP fetch): %7.1f images/s  ratio %.2f\n", cold_rate,
              cold_rate / model_rate);
  std::printf(
      "pipeline hour, warm cache:              %7.1f images/s  ratio %.2f (target >= 0.85)\n",
      warm_rate, warm_rate / model_rate);
  std::printf(
      "day rollup from 24 hourly features:     %7.3f s median of 5 (%lld items, %lld embedded)\n",
      rollup_s, static_cast<long long>(rollup.from_rollup),
      static_cast<long long>(rollup.embedded));
  for (const PipelineStepRecord& step : rollup.steps) {
    std::printf("  %-18s starts at %6.3f s, takes %6.3f s\n", step.name.c_str(),
                step.started_seconds, step.seconds);
  }
  std::printf(
      "day rebuilt from images (warm cache):   %7.3f s  rollup is %.0fx faster (target >= 50)\n",
      direct_s, direct_s / rollup_s);
  server.stop();
  serving.join();
  return 0;
}
