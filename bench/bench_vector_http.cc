// Vector search through the HTTP API against the same index queried
// in-process, same queries, in one run: QPS, p50, and recall@10 against exact
// search.
//
//   bench_vector_http [--items 100000] [--queries 1000] [--clients 2]
//                     [--target-recall 0.95]
//
// Data: synthetic L2-normalised vectors of the default model's dimension
// (1280) with the structure of real embeddings: clusters (a random centre each)
// spread along a shared low-dimensional subspace plus a little isotropic
// noise. Queries are drawn the same way and are not in the index.
// 1. exact top-10 of every query (FAISS Flat) is the ground truth;
// 2. the shard (hnswlib HNSW, as `photosearch index` chooses at this size) is
//    built and published to a scratch repository, which `photosearch serve`
//    serves; the bench opens the same published files in-process;
// 3. the smallest ef_search in {16, 24, ..., 512} reaching the target recall
//    in-process is used for both;
// 4. each side answers every query, one at a time per client, from 1 and then
//    `--clients` concurrent clients.
// Prints QPS, p50 and recall@10 of both and the QPS ratio (target >= 0.5).
#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "artifact/repository.h"
#include "base/stopwatch.h"
#include "index/shard.h"
#include "index/vector_index.h"
#include "model/manifest.h"
#include "nlohmann/json.hpp"
#include "pipeline/shard_builder.h"
#include "stats.h"
#include "support/http_client.h"
#include "support/test_env.h"
#include "synthetic.h"

using namespace photosearch;
using bench::Generate;
using bench::Percentile;
using bench::RandomUnitRows;

namespace {

int Fail(const std::string& message) {
  std::fprintf(stderr, "bench_vector_http: %s\n", message.c_str());
  return 1;
}

double Recall(const std::vector<std::vector<std::string>>& got,
              const std::vector<std::set<std::string>>& truth) {
  int64_t hits = 0, total = 0;
  for (size_t q = 0; q < got.size(); ++q) {  // the first got.size() queries
    for (const std::string& id : got[q]) hits += truth[q].count(id);
    total += truth[q].size();
  }
  return static_cast<double>(hits) / total;
}

struct RunResult {
  double qps = 0, p50_ms = 0, recall = 0;
  bool ok = true;
};

// Runs answer(q, &ids) for every query from `clients` threads.
template <typename Answer>
RunResult Run(int queries, int clients, const std::vector<std::set<std::string>>& truth,
              Answer answer) {
  std::vector<std::vector<std::string>> got(queries);
  std::vector<double> ms(queries);
  std::atomic<int> next{0};
  std::atomic<bool> ok{true};
  Stopwatch wall;
  std::vector<std::thread> pool;
  for (int c = 0; c < clients; ++c) {
    pool.emplace_back([&, c] {
      auto state = answer.NewClient();
      for (int q = next++; q < queries; q = next++) {
        Stopwatch watch;
        if (!answer(state, q, &got[q])) ok = false;
        ms[q] = watch.ElapsedMs();
      }
    });
  }
  for (auto& t : pool) t.join();
  RunResult r;
  r.qps = queries / wall.ElapsedSeconds();
  r.p50_ms = Percentile(ms, 0.5);
  r.recall = Recall(got, truth);
  r.ok = ok;
  return r;
}

}  // namespace

int main(int argc, char** argv) {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);  // progress lines as they come
  int64_t items = 100000;
  int queries = 1000, clients = 2;
  double target_recall = 0.95;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string flag = argv[i];
    if (flag == "--items")
      items = std::atoll(argv[i + 1]);
    else if (flag == "--queries")
      queries = std::atoi(argv[i + 1]);
    else if (flag == "--clients")
      clients = std::atoi(argv[i + 1]);
    else if (flag == "--target-recall")
      target_recall = std::atof(argv[i + 1]);
    else
      return Fail("unknown flag " + flag);
  }
  auto model = LoadModelManifest(testing::DefaultModel());
  if (!model.ok()) return Fail(std::string(model.status().message()));
  const int dim = model->dimension;
  const int k = 10, rank = 48, clusters = 1000;

  Stopwatch step;
  std::vector<float> centres = RandomUnitRows(clusters, dim, 1);
  std::vector<float> basis = RandomUnitRows(rank, dim, 2);
  std::vector<float> data = Generate(items, dim, centres, basis, rank, 10);
  std::vector<float> qvecs = Generate(queries, dim, centres, basis, rank, 20);
  std::vector<std::string> ids(items);
  for (int64_t i = 0; i < items; ++i) ids[i] = absl::StrCat("v", i);
  std::printf("generated %lld vectors + %d queries of dimension %d in %.1f s\n",
              static_cast<long long>(items), queries, dim, step.ElapsedSeconds());

  // Ground truth: exact search.
  step.Reset();
  std::vector<std::set<std::string>> truth(queries);
  {
    auto exact = CreateIndex(IndexSpec{}, dim);
    if (!exact.ok() || !(*exact)->Add(data.data(), items).ok()) return Fail("exact index");
    auto result = (*exact)->Search(qvecs.data(), queries, k);
    if (!result.ok()) return Fail(std::string(result.status().message()));
    for (int q = 0; q < queries; ++q) {
      for (const Neighbor& nb : (*result)[q]) truth[q].insert(ids[nb.label]);
    }
  }
  std::printf("exact top-%d of %d queries in %.1f s\n", k, queries, step.ElapsedSeconds());

  // Build and publish the shard as `photosearch index` would; open it here too.
  step.Reset();
  testing::ScratchDir repo_dir, scratch;
  auto store = OpenStore(repo_dir.path());
  if (!store.ok()) return Fail(std::string(store.status().message()));
  Repository repository(std::move(*store));
  ShardBuild build;
  build.key = ArtifactKey{"shard", model->id, "all", 0, 1};
  build.dimension = dim;
  build.metric = model->metric;
  build.inputs["source"] = "bench_vector_http synthetic";
  auto published = BuildAndPublishShard(repository, build, ids, data);
  if (!published.ok()) return Fail(std::string(published.status().message()));
  auto spec = ParseIndexSpec(published->index);
  auto dir = repository.FetchVerified(build.key, *published, scratch.path());
  if (!spec.ok() || !dir.ok()) return Fail("cannot read back the published shard");
  auto shard = Shard::Open(*dir, *spec, dim);
  if (!shard.ok()) return Fail(std::string(shard.status().message()));
  std::printf("built and published %s over %lld vectors in %.1f s\n", published->index.c_str(),
              static_cast<long long>(items), step.ElapsedSeconds());
  data = {};

  // The smallest ef reaching the target recall, in-process.
  int ef = 0;
  double ef_recall = 0;
  for (int candidate : {16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512}) {
    SearchParams params;
    params.ef_search = candidate;
    auto hits = (*shard)->Search(qvecs.data(), queries, k, params);
    if (!hits.ok()) return Fail(std::string(hits.status().message()));
    std::vector<std::vector<std::string>> got(queries);
    for (int q = 0; q < queries; ++q) {
      for (const Hit& h : (*hits)[q]) got[q].push_back(h.item_id);
    }
    ef_recall = Recall(got, truth);
    ef = candidate;
    std::printf("  ef_search %3d: recall@%d %.4f\n", candidate, k, ef_recall);
    if (ef_recall >= target_recall) break;
  }

  // The server, on the same published shard.
  int port = -1;
  auto server = testing::StartServe({"--repo", repo_dir.path(), "--poll-seconds", "0"}, &port);
  if (port <= 0) return Fail("serve did not start");
  std::vector<std::string> bodies(queries);
  for (int q = 0; q < queries; ++q) {
    nlohmann::json body = {{"vector", std::vector<float>(qvecs.begin() + int64_t(q) * dim,
                                                         qvecs.begin() + int64_t(q + 1) * dim)},
                           {"model", model->id},
                           {"k", k}};
    bodies[q] = body.dump();
  }
  const std::string path = absl::StrCat("/v1/search?ef=", ef);

  struct InProcess {
    const Shard* shard;
    const float* queries;
    int dim, k, ef;
    int NewClient() { return 0; }
    bool operator()(int, int q, std::vector<std::string>* out) const {
      SearchParams params;
      params.ef_search = ef;
      auto hits = shard->Search(queries + int64_t(q) * dim, 1, k, params);
      if (!hits.ok()) return false;
      for (const Hit& h : (*hits)[0]) out->push_back(h.item_id);
      return true;
    }
  } in_process{shard->get(), qvecs.data(), dim, k, ef};
  struct OverHttp {
    int port;
    const std::vector<std::string>* bodies;
    const std::string* path;
    std::shared_ptr<testing::HttpClient> NewClient() {
      return std::make_shared<testing::HttpClient>(port);
    }
    bool operator()(const std::shared_ptr<testing::HttpClient>& client, int q,
                    std::vector<std::string>* out) const {
      testing::HttpReply reply = client->Post(*path, (*bodies)[q], "application/json");
      if (reply.status != 200) return false;
      nlohmann::json j = nlohmann::json::parse(reply.body);
      for (const auto& r : j["results"]) out->push_back(r["item_id"]);
      return true;
    }
  } over_http{port, &bodies, &path};

  Run(std::min(queries, 100), 1, truth, over_http);  // warm the connection and the server
  std::printf("%lld vectors, dimension %d, %s, ef_search %d, k %d, %d queries\n",
              static_cast<long long>(items), dim, published->index.c_str(), ef, k, queries);
  for (int c : {1, clients}) {
    RunResult local = Run(queries, c, truth, in_process);
    RunResult http = Run(queries, c, truth, over_http);
    if (!local.ok || !http.ok) return Fail("a search failed");
    std::printf("%d client(s): in-process %8.0f QPS  p50 %6.3f ms  recall@10 %.4f\n", c, local.qps,
                local.p50_ms, local.recall);
    std::printf("             HTTP API   %8.0f QPS  p50 %6.3f ms  recall@10 %.4f\n", http.qps,
                http.p50_ms, http.recall);
    std::printf("             ratio HTTP / in-process QPS %.2f  (target >= 0.50)\n",
                http.qps / local.qps);
  }
  return 0;
}
