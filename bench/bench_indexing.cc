// Indexing throughput against the model's own forward throughput, in one run.
//
//   bench_indexing [--photos DIR] [--model model.json] [--batch 0=calibrated]
//                  [--replicas 1] [--threads 0] [--model-only-images 512]
//
// 1. model only: the first N photos are decoded and preprocessed up front; then
//    Embedder::EmbedBatch runs over the tensors in batches (nothing else on the CPU);
// 2. indexing: IndexFolder (the code behind `photosearch index`) over the whole
//    folder: read, decode, preprocess, batch, embed, build, publish.
// Prints images/s for both and their ratio (target: indexing >= 0.9x model only).
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "artifact/repository.h"
#include "base/files.h"
#include "base/stopwatch.h"
#include "model/embedder.h"
#include "model/photo_embedder.h"
#include "model/preprocess.h"
#include "pipeline/folder_indexer.h"
#include "support/test_env.h"

using namespace photosearch;

int main(int argc, char** argv) {
  std::string photos = testing::AssetsDir() + "/photos/grocery_store/test";
  std::string model_path = testing::DefaultModel();
  int batch = 0;
  int threads = 0;
  int replicas = 1;
  int model_only_images = 512;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string flag = argv[i];
    if (flag == "--photos")
      photos = argv[i + 1];
    else if (flag == "--model")
      model_path = argv[i + 1];
    else if (flag == "--batch")
      batch = std::atoi(argv[i + 1]);
    else if (flag == "--threads")
      threads = std::atoi(argv[i + 1]);
    else if (flag == "--replicas")
      replicas = std::atoi(argv[i + 1]);
    else if (flag == "--model-only-images")
      model_only_images = std::atoi(argv[i + 1]);
    else {
      std::fprintf(stderr, "unknown flag %s\n", flag.c_str());
      return 2;
    }
  }
  PhotoEmbedderOptions options;
  options.replicas = replicas;
  options.embedder.threads = threads;
  if (batch > 0) {
    options.embedder.warmup_batch_sizes = {1, batch};
  } else {
    options.embedder.calibrate_max_batch = 32;
  }
  options.batching.max_batch = batch;
  auto embedder = PhotoEmbedder::Load(model_path, options);
  if (!embedder.ok()) {
    std::fprintf(stderr, "%s\n", std::string(embedder.status().message()).c_str());
    return 1;
  }
  const ModelManifest& m = (*embedder)->manifest();
  int64_t ignored = 0;
  auto list = ListPhotos(photos, &ignored);
  if (!list.ok() || list->empty()) {
    std::fprintf(stderr, "no photos under %s\n", photos.c_str());
    return 1;
  }

  if (batch <= 0) batch = (*embedder)->batcher().max_batch();
  // 1. Model only, on pre-decoded tensors: the same replicas, each on its own
  //    thread, each running its share of the batches.
  int n = std::min<int>(model_only_images, static_cast<int>(list->size()));
  n -= n % (batch * replicas);
  std::vector<float> tensors(InputTensorSize(m) * n);
  Stopwatch decode_watch;
  for (int i = 0; i < n; ++i) {
    auto bytes = ReadFile(photos + "/" + (*list)[i]);
    auto input = bytes.ok() ? (*embedder)->Prepare(*bytes) : bytes.status();
    if (!input.ok()) {
      std::fprintf(stderr, "%s: %s\n", (*list)[i].c_str(),
                   std::string(input.status().message()).c_str());
      return 1;
    }
    std::copy(input->begin(), input->end(), tensors.begin() + InputTensorSize(m) * i);
  }
  double decode_ms = decode_watch.ElapsedMs() / n;
  EmbedderOptions raw_options = options.embedder;
  raw_options.calibrate_max_batch = 0;
  raw_options.warmup_batch_sizes = {batch};
  std::vector<std::unique_ptr<Embedder>> raw;
  for (int r = 0; r < replicas; ++r) raw.push_back(*LoadEmbedder(m, raw_options));
  Stopwatch model_watch;
  std::vector<std::thread> runners;
  for (int r = 0; r < replicas; ++r) {
    runners.emplace_back([&, r] {
      raw[r]->ConfigureCallingThread();
      for (int i = r * batch; i < n; i += replicas * batch) {
        (void)raw[r]->EmbedBatch(tensors.data() + InputTensorSize(m) * i, batch);
      }
    });
  }
  for (auto& t : runners) t.join();
  double model_rate = n / model_watch.ElapsedSeconds();
  raw.clear();
  tensors = {};

  // 2. The indexing path over the whole folder.
  testing::ScratchDir repo_dir;
  auto store = OpenStore(repo_dir.path());
  Repository repository(std::move(*store));
  FolderIndexOptions index_options;
  index_options.photos_dir = photos;
  Stopwatch index_watch;
  auto result = IndexFolder(**embedder, repository, index_options);
  if (!result.ok()) {
    std::fprintf(stderr, "%s\n", std::string(result.status().message()).c_str());
    return 1;
  }
  double index_rate = (result->indexed + result->failures.size()) / index_watch.ElapsedSeconds();
  std::printf("model %s, %d replica(s) x %d thread(s), batch %d, %s\n", m.id.c_str(), replicas,
              threads, batch, photos.c_str());
  std::printf("read+decode+preprocess, 1 thread:      %7.2f ms/image\n", decode_ms);
  std::printf("model only (pre-decoded, %d photos):  %7.1f images/s\n", n, model_rate);
  std::printf("indexing (%lld photos, end to end):   %7.1f images/s\n",
              static_cast<long long>(result->indexed), index_rate);
  std::printf("ratio indexing / model only:          %7.2f  (target >= 0.90)\n",
              index_rate / model_rate);
  return 0;
}
