// Query latency: POST /v1/search with a photo against `photosearch serve`
// (a real server process on 127.0.0.1), against the model's own forward time at
// batch 1 on the same photos, in one run.
//
//   bench_query [--photos DIR] [--queries 200] [--rounds 2] [--index auto|<spec>]
//               [--detect primary|all]
//
// 1. `photosearch index` indexes DIR (default: the grocery test set) and
//    `photosearch serve` serves it (1 replica using every core: its default);
// 2. model only: the same model, loaded here with the same threads, runs
//    forward passes at batch 1 on the pre-decoded query photos;
// 3. HTTP: one client sends each query photo as the raw body, one at a time;
//    latency is measured at the client (connect, upload, decode, embed, search,
//    JSON, response).
// Model-only and HTTP phases alternate `--rounds` times so that drift on a shared
// machine hits both. Prints p50/p99 of both and the ratio of p50s (target <= 1.2).
// With --detect, queries ask ?detect=primary|all and a third in-process phase
// times the detector alone (torch, same threads) on the decoded photos; the
// ratio is then HTTP / (detect + forward) (target <= 1.15).
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "base/files.h"
#include "base/stopwatch.h"
#include "image/decode.h"
#include "model/detector.h"
#include "model/embedder.h"
#include "model/manifest.h"
#include "model/photo_embedder.h"
#include "nlohmann/json.hpp"
#include "pipeline/folder_indexer.h"
#include "stats.h"
#include "support/http_client.h"
#include "support/test_env.h"

using namespace photosearch;
using bench::Percentile;

namespace {

int Fail(const std::string& message) {
  std::fprintf(stderr, "bench_query: %s\n", message.c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  std::string photos = testing::AssetsDir() + "/photos/grocery_store/test";
  std::string index = "auto";
  std::string detect;
  int queries = 200, rounds = 2;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string flag = argv[i];
    if (flag == "--photos")
      photos = argv[i + 1];
    else if (flag == "--queries")
      queries = std::atoi(argv[i + 1]);
    else if (flag == "--rounds")
      rounds = std::atoi(argv[i + 1]);
    else if (flag == "--index")
      index = argv[i + 1];
    else if (flag == "--detect")
      detect = argv[i + 1];
    else
      return Fail("unknown flag " + flag);
  }
  int64_t ignored = 0;
  auto list = ListPhotos(photos, &ignored);
  if (!list.ok() || list->empty()) return Fail("no photos under " + photos);

  testing::ScratchDir repo;
  std::string output;
  Stopwatch index_watch;
  if (testing::RunCommand({testing::PhotosearchBin(), "index", "--photos", photos, "--repo",
                           repo.path(), "--index", index},
                          &output) != 0) {
    return Fail("photosearch index failed: " + output);
  }
  std::printf("indexed %zu photos in %.1f s\n", list->size(), index_watch.ElapsedSeconds());
  int port = -1;
  auto server = testing::StartServe({"--repo", repo.path(), "--poll-seconds", "0"}, &port);
  if (port <= 0) return Fail("serve did not start");

  // The query photos, spread over the folder; their bytes and their tensors.
  PhotoEmbedderOptions options;  // serve's default: 1 replica, every core
  options.embedder.warmup_batch_sizes = {1};
  auto manifest = LoadModelManifest(testing::DefaultModel());
  if (!manifest.ok()) return Fail(std::string(manifest.status().message()));
  queries = std::min<int>(queries, static_cast<int>(list->size()));
  std::vector<std::string> bytes;
  std::vector<std::vector<float>> tensors;
  {
    auto embedder = PhotoEmbedder::Load(testing::DefaultModel(), options);
    if (!embedder.ok()) return Fail(std::string(embedder.status().message()));
    for (int q = 0; q < queries; ++q) {
      const std::string& name = (*list)[q * list->size() / queries];
      auto b = ReadFile(photos + "/" + name);
      if (!b.ok()) return Fail(std::string(b.status().message()));
      auto t = (*embedder)->Prepare(*b);
      if (!t.ok()) return Fail(name + ": " + std::string(t.status().message()));
      bytes.push_back(std::move(*b));
      tensors.push_back(std::move(*t));
    }
  }

  const std::string path = "/v1/search?k=10" + (detect.empty() ? "" : "&detect=" + detect);
  std::vector<Image> detector_inputs;  // decoded as the server decodes for detection
  if (!detect.empty()) {
    DecodeOptions decode;
    decode.min_side = 1024;  // region_embedder.cc: kCropDecodeMinSide
    for (const std::string& b : bytes) {
      auto image = DecodeImage(b, decode);
      if (!image.ok()) return Fail(std::string(image.status().message()));
      detector_inputs.push_back(std::move(*image));
    }
  }
  testing::HttpClient client(port);
  for (int w = 0; w < 20; ++w) {  // warm the server: first requests allocate
    if (client.Post(path, bytes[w % queries], "image/jpeg").status != 200) {
      return Fail("warm-up search failed");
    }
  }
  // Each in-process phase loads its own copy of the model on a thread that
  // ends with the phase, so that no idle OpenMP team of one phase throttles
  // the next (see PhotoEmbedder::Load).
  std::vector<double> model_ms, batcher_ms, http_ms, server_decode, server_embed, server_search;
  std::vector<double> detect_ms, server_detect;
  std::string error;
  for (int round = 0; round < rounds && error.empty(); ++round) {
    std::thread([&] {
      auto raw = LoadEmbedder(*manifest, options.embedder);
      if (!raw.ok()) {
        error = std::string(raw.status().message());
        return;
      }
      (*raw)->ConfigureCallingThread();
      for (int q = 0; q < queries; ++q) {
        Stopwatch watch;
        auto v = (*raw)->EmbedBatch(tensors[q].data(), 1);
        model_ms.push_back(watch.ElapsedMs());
        if (!v.ok()) error = std::string(v.status().message());
      }
    }).join();
    if (!detect.empty()) {
      std::thread([&] {  // the detector alone, as serve loads it (every core)
        auto detector = Detector::Load(testing::SourceDir() + "/models/yolox_nano");
        if (!detector.ok()) {
          error = std::string(detector.status().message());
          return;
        }
        for (int q = 0; q < queries; ++q) {
          Stopwatch watch;
          auto boxes = (*detector)->Detect(detector_inputs[q]);
          detect_ms.push_back(watch.ElapsedMs());
          if (!boxes.ok()) error = std::string(boxes.status().message());
        }
      })
          .join();
    }
    {
      auto embedder = PhotoEmbedder::Load(testing::DefaultModel(), options);
      if (!embedder.ok()) return Fail(std::string(embedder.status().message()));
      for (int q = 0; q < queries; ++q) {  // the same model behind the batching queue
        Stopwatch watch;
        auto v = (*embedder)->Submit(tensors[q]).get();
        batcher_ms.push_back(watch.ElapsedMs());
        if (!v.ok()) return Fail(std::string(v.status().message()));
      }
    }
    for (int q = 0; q < queries; ++q) {
      Stopwatch watch;
      testing::HttpReply reply = client.Post(path, bytes[q], "image/jpeg");
      http_ms.push_back(watch.ElapsedMs());
      if (reply.status != 200)
        return Fail("search: HTTP " + std::to_string(reply.status) + " " + reply.body);
      nlohmann::json took = nlohmann::json::parse(reply.body)["took_ms"];
      server_decode.push_back(took["decode"]);
      server_embed.push_back(took["embed"]);
      server_search.push_back(took["search"]);
      server_detect.push_back(took["detect"]);
    }
  }
  if (!error.empty()) return Fail(error);
  const ModelManifest& m = *manifest;
  std::printf("model %s, %d queries x %d rounds, index of %zu photos\n", m.id.c_str(), queries,
              rounds, list->size());
  std::printf("model forward, batch 1:    p50 %7.2f ms   p99 %7.2f ms\n", Percentile(model_ms, 0.5),
              Percentile(model_ms, 0.99));
  std::printf("batching queue + forward:   p50 %7.2f ms   p99 %7.2f ms\n",
              Percentile(batcher_ms, 0.5), Percentile(batcher_ms, 0.99));
  std::printf("POST /v1/search (photo):   p50 %7.2f ms   p99 %7.2f ms\n", Percentile(http_ms, 0.5),
              Percentile(http_ms, 0.99));
  std::printf("  server stages, p50:      decode %.2f ms, embed %.2f ms, search %.2f ms\n",
              Percentile(server_decode, 0.5), Percentile(server_embed, 0.5),
              Percentile(server_search, 0.5));
  if (detect.empty()) {
    std::printf("ratio p50 HTTP / model:    %7.2f  (target <= 1.20)\n",
                Percentile(http_ms, 0.5) / Percentile(model_ms, 0.5));
    return 0;
  }
  std::printf(
      "detector alone:            p50 %7.2f ms   p99 %7.2f ms (server's detect stage "
      "p50 %.2f ms)\n",
      Percentile(detect_ms, 0.5), Percentile(detect_ms, 0.99), Percentile(server_detect, 0.5));
  std::printf("ratio p50 HTTP detect=%s / (detect + forward): %.2f  (target <= 1.15)\n",
              detect.c_str(),
              Percentile(http_ms, 0.5) / (Percentile(detect_ms, 0.5) + Percentile(model_ms, 0.5)));
  return 0;
}
