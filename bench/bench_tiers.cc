// The index chosen per tier (hour, day, month): build time, memory per vector
// and recall@10 against exact search on the same data, in one run.
//
//   bench_tiers [--items 60000] [--queries 500] [--spec SPEC]...
//
// Data: synthetic 1280-d embeddings (bench/synthetic.h); queries drawn the
// same way, not in the index. Each spec is built through photosearch's own
// index layer (CreateIndex -> Add -> Save, as a pipeline's build step does),
// then answers every query one at a time on one thread. Memory per vector is
// the saved index file's size / items (what an index server holds in RAM).
// IVF indexes answer with their saved nprobe (16) and again with 64.
// Default specs: exact (hours), HNSW (days), and IVF-PQ without and with
// re-ranking, after PCA or not (months).
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "base/stopwatch.h"
#include "index/vector_index.h"
#include "model/manifest.h"
#include "support/test_env.h"
#include "synthetic.h"

using namespace photosearch;

namespace {

int Fail(const std::string& message) {
  std::fprintf(stderr, "bench_tiers: %s\n", message.c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  int64_t items = 60000;
  int queries = 500;
  std::vector<std::string> specs;
  for (int i = 1; i < argc; i += 2) {
    const std::string flag = argv[i];
    if (flag == "--help" || i + 1 >= argc) {
      std::printf("usage: bench_tiers [--items N] [--queries Q] [--spec faiss:...|hnsw:...]...\n");
      return flag == "--help" ? 0 : 2;
    }
    if (flag == "--items") {
      items = std::atoll(argv[i + 1]);
    } else if (flag == "--queries") {
      queries = std::atoi(argv[i + 1]);
    } else if (flag == "--spec") {
      specs.push_back(argv[i + 1]);
    } else {
      return Fail("unknown flag " + flag);
    }
  }
  if (items < 1000 || queries < 1) return Fail("--items >= 1000, --queries >= 1");
  if (specs.empty()) {
    specs = {"faiss:Flat",
             "hnsw:M=16,ef_construction=200,ef_search=128",
             "faiss:IVF256,PQ32np",
             "faiss:IVF256,PQ32np,RFlat",
             "faiss:IVF256,PQ64np,Refine(SQ8)",
             "faiss:IVF256,SQ8",
             "faiss:PCA256,IVF256,SQ8",
             "faiss:PCA256,IVF256,PQ32np,RFlat"};
  }
  auto model = LoadModelManifest(testing::DefaultModel());
  if (!model.ok()) return Fail(std::string(model.status().message()));
  const int dim = model->dimension, k = 10;

  Stopwatch step;
  std::vector<float> centres = bench::RandomUnitRows(1000, dim, 1);
  std::vector<float> basis = bench::RandomUnitRows(48, dim, 2);
  std::vector<float> data = bench::Generate(items, dim, centres, basis, 48, 10);
  std::vector<float> qvecs = bench::Generate(queries, dim, centres, basis, 48, 20);
  std::printf("%lld vectors + %d queries of dimension %d\n", static_cast<long long>(items), queries,
              dim);

  std::vector<std::set<int64_t>> truth(queries);
  {
    auto exact = CreateIndex(IndexSpec{}, dim);
    if (!exact.ok() || !(*exact)->Add(data.data(), items).ok()) return Fail("exact index");
    auto result = (*exact)->Search(qvecs.data(), queries, k);
    if (!result.ok()) return Fail(std::string(result.status().message()));
    for (int q = 0; q < queries; ++q) {
      for (const Neighbor& nb : (*result)[q]) truth[q].insert(nb.label);
    }
  }

  testing::ScratchDir scratch;
  std::printf("%-44s %9s %12s %10s %10s\n", "index", "build s", "bytes/vec", "recall@10", "p50 ms");
  const double raw_bytes = dim * sizeof(float);
  for (const std::string& text : specs) {
    auto spec = ParseIndexSpec(text);
    if (!spec.ok()) return Fail(std::string(spec.status().message()));
    Stopwatch build;
    auto index = CreateIndex(*spec, dim, items);
    if (!index.ok()) return Fail(std::string(index.status().message()));
    if (absl::Status s = (*index)->Add(data.data(), items); !s.ok()) {
      return Fail(std::string(s.message()));
    }
    const double build_s = build.ElapsedSeconds();
    const std::string path = scratch / "index";
    if (absl::Status s = (*index)->Save(path); !s.ok()) return Fail(std::string(s.message()));
    const double bytes = static_cast<double>(std::filesystem::file_size(path)) / items;
    std::vector<int> nprobes = {0};  // the index's own
    if (text.find("IVF") != std::string::npos && text.find("Refine") == std::string::npos &&
        text.find("RFlat") == std::string::npos) {
      nprobes = {0, 64};
    }
    for (int nprobe : nprobes) {
      SearchParams params;
      params.nprobe = nprobe;
      int64_t hits = 0;
      std::vector<double> ms;
      for (int q = 0; q < queries; ++q) {
        Stopwatch one;
        auto result = (*index)->Search(qvecs.data() + static_cast<size_t>(q) * dim, 1, k, params);
        ms.push_back(one.ElapsedMs());
        if (!result.ok()) return Fail(std::string(result.status().message()));
        for (const Neighbor& nb : (*result)[0]) hits += truth[q].count(nb.label);
      }
      std::sort(ms.begin(), ms.end());
      const std::string name = nprobe ? absl::StrCat(text, " nprobe=", nprobe) : text;
      std::printf("%-44s %9.1f %7.0f (%3.0f%%) %10.3f %10.3f\n", name.c_str(), build_s, bytes,
                  100.0 * bytes / raw_bytes, static_cast<double>(hits) / (queries * k),
                  ms[ms.size() / 2]);
      std::fflush(stdout);
    }
  }
  return 0;
}
