// Distributed serving against one process, in one run: what the gateway and
// index servers cost, what the planner saves, and what a hot swap costs.
//
//   bench_cluster [--vectors 100000] [--queries 1000] [--seconds 10] [--clients 4]
//                 [--ef 64] [--shards 1,4,16] [--measure 1,2,3]
//                 [--index hnsw:M=16,ef_construction=64,ef_search=64] [--data clustered]
//                 [--swap-poll-seconds 1]
//
// Data: --vectors L2-normalised 1280-d vectors with a fixed seed, indexed ONCE
// with --index; --queries held-out vectors drawn the same way. --data
// clustered (default) draws them as bench/synthetic.h does (clusters along a
// shared 48-d subspace plus noise, like real embeddings); --data gaussian
// draws i.i.d. Gaussian vectors, on which HNSW builds 2-3x slower and finds
// almost none of the true neighbours (nothing is near anything in 1280-d).
//
// 1. Gateway vs in-process, at each of --shards S (1, 4, 16): the one index
//    file is published (Repository::Publish) under hour/2026-11-22T00..T15,
//    each with its own ids.bin (item ids prefixed by the window): distinct
//    items, same vectors. (a) `photosearch serve` over a repository holding
//    exactly S of them (hard links to the published versions); (b) min(S, 4)
//    `photosearch index-server`s, each serving a share of the S windows
//    (--select), behind `photosearch gateway --shards FILE`. Serve and the
//    index servers run one after the other, never loaded at once. Each side
//    answers vector queries over REST (k 10, the same ef) from --clients
//    concurrent keep-alive clients for --seconds after a warm-up (the
//    gateway with its defaults: --deadline-ms 1000, --overfetch 1.5, so each
//    shard returns 15 hits to it and 10 to serve); QPS, p50,
//    p99, the CPU each process spent per query, and whether both sides
//    returned the same top-10 item ids for the queries both answered. The
//    neighbours on this machine take a varying share of the cores, so the
//    ratio is also given per CPU: CPU per query of serve (and the clients)
//    over that of gateway, index servers (and the clients).
//    Targets: gateway QPS >= 0.6x in-process at 4 shards; gateway p99 <=
//    2 x in-process p99 + 2 ms.
// 2. The planner's worth, in this process (ShardManager + LocalBackend): a
//    repository with day/2026-11-22 (the index built above) and its 24 hours
//    (the same items split in 24, each indexed as `photosearch index` would,
//    ChooseIndexSpec); queries planned by PlanQuery(available, no range), which
//    plans the day alone, against the same queries sent to all 25 shards.
//    Target: >= 10x.
// 3. Hot-swap cost: one index server (--poll-seconds 1, or --swap-poll-seconds;
//    0 never swaps, as a control) serving the day, a
//    gateway in front, clients querying; p99 over --seconds without a swap,
//    then over --seconds during which a new version of the shard (new ids.bin)
//    is published and swapped in. Every query must succeed.
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "artifact/repository.h"
#include "base/files.h"
#include "base/stopwatch.h"
#include "gateway/local_backend.h"
#include "gateway/planner.h"
#include "index/shard.h"
#include "index/vector_index.h"
#include "model/manifest.h"
#include "nlohmann/json.hpp"
#include "serving/shard_manager.h"
#include "spdlog/spdlog.h"
#include "stats.h"
#include "support/http_client.h"
#include "support/test_env.h"
#include "synthetic.h"

using namespace photosearch;
using bench::Percentile;
namespace fs = std::filesystem;

namespace {

constexpr int kK = 10;
constexpr double kWarmupSeconds = 2.0;

Stopwatch g_clock;  // since the start of the run, for progress lines

void Progress(const std::string& line) {
  std::printf("[%6.1f s] %s\n", g_clock.ElapsedSeconds(), line.c_str());
}

[[noreturn]] void Die(const std::string& message) {
  std::fprintf(stderr, "bench_cluster: %s\n", message.c_str());
  std::exit(1);
}

template <typename T>
T OrDie(absl::StatusOr<T> value, const std::string& what) {
  if (!value.ok()) Die(absl::StrCat(what, ": ", value.status().ToString()));
  return std::move(*value);
}

void OrDie(const absl::Status& status, const std::string& what) {
  if (!status.ok()) Die(absl::StrCat(what, ": ", status.ToString()));
}

struct Flags {
  int64_t vectors = 100000;  // per shard
  int queries = 1000;
  double seconds = 10;  // per measurement window
  int clients = 4;
  int ef = 64;
  std::vector<int> shards = {1, 4, 16};
  std::set<int> measure = {1, 2, 3};
  std::string index = "hnsw:M=16,ef_construction=64,ef_search=64";
  std::string data = "clustered";  // or "gaussian"
  int swap_poll_seconds = 1;        // the hot-swapping index server's --poll-seconds
};

std::vector<int> ParseIntList(const std::string& text) {
  std::vector<int> out;
  for (absl::string_view part : absl::StrSplit(text, ',')) out.push_back(std::atoi(std::string(part).c_str()));
  return out;
}

Flags ParseFlags(int argc, char** argv) {
  Flags f;
  for (int i = 1; i < argc; i += 2) {
    const std::string flag = argv[i];
    if (i + 1 >= argc) Die("flag " + flag + " needs a value");
    const std::string value = argv[i + 1];
    if (flag == "--vectors") {
      f.vectors = std::atoll(value.c_str());
    } else if (flag == "--queries") {
      f.queries = std::atoi(value.c_str());
    } else if (flag == "--seconds") {
      f.seconds = std::atof(value.c_str());
    } else if (flag == "--clients") {
      f.clients = std::atoi(value.c_str());
    } else if (flag == "--ef") {
      f.ef = std::atoi(value.c_str());
    } else if (flag == "--shards") {
      f.shards = ParseIntList(value);
    } else if (flag == "--measure") {
      auto list = ParseIntList(value);
      f.measure = std::set<int>(list.begin(), list.end());
    } else if (flag == "--index") {
      f.index = value;
    } else if (flag == "--swap-poll-seconds") {
      f.swap_poll_seconds = std::atoi(value.c_str());
    } else if (flag == "--data") {
      if (value != "clustered" && value != "gaussian") Die("--data is clustered or gaussian");
      f.data = value;
    } else {
      Die("unknown flag " + flag);
    }
  }
  if (f.vectors < 240 || f.queries < 1 || f.seconds <= 0 || f.clients < 1 || f.ef < 1) {
    Die("need --vectors >= 240, --queries >= 1, --seconds > 0, --clients >= 1, --ef >= 1");
  }
  for (int s : f.shards) {
    if (s < 1 || s > 16) Die("--shards values must be 1..16");
  }
  return f;
}

// n random Gaussian rows of `dim`, each L2-normalised; two threads.
std::vector<float> GaussianUnitRows(int64_t n, int dim, uint32_t seed) {
  std::vector<float> out(static_cast<size_t>(n) * dim);
  std::vector<std::thread> workers;
  for (int t = 0; t < 2; ++t) {
    workers.emplace_back([&, t] {
      std::mt19937 rng(seed * 2 + t);
      std::normal_distribution<float> normal(0.f, 1.f);
      for (int64_t i = t; i < n; i += 2) {
        float* v = &out[static_cast<size_t>(i) * dim];
        double norm = 0;
        for (int d = 0; d < dim; ++d) {
          v[d] = normal(rng);
          norm += double{v[d]} * v[d];
        }
        const float inv = static_cast<float>(1.0 / std::sqrt(norm));
        for (int d = 0; d < dim; ++d) v[d] *= inv;
      }
    });
  }
  for (auto& w : workers) w.join();
  return out;
}

std::string HourWindow(int hour) { return absl::StrFormat("hour/2026-11-22T%02d", hour); }
const char* const kDayWindow = "day/2026-11-22";

// CPU seconds (user + system, all threads) a process has used so far.
double CpuSeconds(pid_t pid) {
  std::ifstream in(absl::StrCat("/proc/", pid, "/stat"));
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const size_t paren = stat.rfind(')');
  if (paren == std::string::npos) return 0;
  std::istringstream fields(stat.substr(paren + 2));
  std::vector<std::string> f;
  std::string token;
  while (fields >> token) f.push_back(token);
  if (f.size() < 13) return 0;
  // Field 3 (state) is f[0]; utime is field 14, stime field 15.
  return (std::atof(f[11].c_str()) + std::atof(f[12].c_str())) / sysconf(_SC_CLK_TCK);
}

double CpuSeconds(const std::vector<pid_t>& pids) {
  double total = 0;
  for (pid_t p : pids) total += CpuSeconds(p);
  return total;
}

// ---------------------------------------------------------------- load

// One request as a client saw it.
struct Sample {
  double start_s = 0;  // since the load started
  double ms = 0;
  bool ok = false;       // 200, not partial, k results
  bool partial = false;  // 200 but a shard missing
  bool marked = false;   // a result id starts with the run's marker
};

struct LoadResult {
  std::vector<Sample> samples;
  std::vector<std::vector<std::string>> first_ids;  // per query: the first answer's ids
  std::string first_error;
  std::map<std::string, int64_t> errors;  // failed queries by the start of their error
};

// "N x error; M x error" for the commonest kinds of failure.
std::string ErrorKinds(const std::map<std::string, int64_t>& errors) {
  std::vector<std::pair<int64_t, std::string>> kinds;
  for (const auto& [error, count] : errors) kinds.emplace_back(count, error);
  std::sort(kinds.rbegin(), kinds.rend());
  std::string out;
  for (size_t i = 0; i < kinds.size() && i < 3; ++i) {
    absl::StrAppend(&out, i ? "; " : "", kinds[i].first, " x ", kinds[i].second);
  }
  return out;
}

struct Summary {
  int64_t n = 0, failed = 0, partial = 0;
  double qps = 0, p50_ms = 0, p99_ms = 0;
};

Summary Summarize(const std::vector<Sample>& samples, double from_s, double to_s) {
  Summary s;
  std::vector<double> ms;
  for (const Sample& x : samples) {
    if (x.start_s < from_s || x.start_s >= to_s) continue;
    ++s.n;
    if (!x.ok) ++s.failed;
    if (x.partial) ++s.partial;
    ms.push_back(x.ms);
  }
  if (ms.empty()) return s;
  s.qps = (s.n - s.failed) / (to_s - from_s);
  s.p50_ms = Percentile(ms, 0.50);
  s.p99_ms = Percentile(ms, 0.99);
  return s;
}

// Something the main thread does at a time into the load (a CPU snapshot, a publish).
struct Event {
  double at_s;
  std::function<void()> run;
};

// Keeps `clients` keep-alive connections busy with the queries in turn for
// `seconds`; the main thread runs `events` meanwhile.
// A query fails unless it answers 200 with k results from all `shards`.
LoadResult RunHttpLoad(int port, const std::vector<std::string>& bodies, const std::string& path,
                       int clients, double seconds, int shards, const std::string& marker,
                       std::vector<Event> events = {}) {
  LoadResult result;
  result.first_ids.resize(bodies.size());
  std::mutex mu;
  std::atomic<int64_t> next{0};
  const auto t0 = std::chrono::steady_clock::now();
  const auto end = t0 + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                            std::chrono::duration<double>(seconds));
  std::vector<std::thread> pool;
  for (int c = 0; c < clients; ++c) {
    pool.emplace_back([&] {
      testing::HttpClient client(port);
      std::vector<Sample> local;
      while (std::chrono::steady_clock::now() < end) {
        const size_t q = static_cast<size_t>(next++ % static_cast<int64_t>(bodies.size()));
        Sample s;
        s.start_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        Stopwatch watch;
        testing::HttpReply reply = client.Post(path, bodies[q], "application/json");
        s.ms = watch.ElapsedMs();
        std::vector<std::string> ids;
        std::string error;
        if (reply.status == 200) {
          nlohmann::json j = nlohmann::json::parse(reply.body, nullptr, false);
          if (j.is_discarded() || !j.contains("results")) {
            error = "unparsable response";
          } else {
            for (const auto& r : j["results"]) ids.push_back(r["item_id"].get<std::string>());
            s.partial = j.value("partial", false);
            const int searched = j.value("shards_searched", 0);
            s.ok = !s.partial && ids.size() == static_cast<size_t>(kK) && searched == shards;
            if (s.partial) error = "partial: " + j["missing_shards"].dump();
            if (!s.partial && searched != shards) {
              error = absl::StrCat("searched ", searched, " of ", shards, " shards, not partial");
            }
            if (!s.ok && error.empty()) error = absl::StrCat(ids.size(), " results");
            for (const std::string& id : ids) s.marked |= !marker.empty() && id.rfind(marker, 0) == 0;
          }
        } else {
          error = absl::StrCat("HTTP ", reply.status, ": ", reply.body.substr(0, 300));
        }
        local.push_back(s);
        if (!s.ok || result.first_ids[q].empty()) {
          std::lock_guard<std::mutex> lock(mu);
          if (s.ok && result.first_ids[q].empty()) result.first_ids[q] = std::move(ids);
          if (!s.ok && result.first_error.empty()) result.first_error = error;
          if (!s.ok) ++result.errors[error.substr(0, 120)];
        }
      }
      std::lock_guard<std::mutex> lock(mu);
      result.samples.insert(result.samples.end(), local.begin(), local.end());
    });
  }
  for (Event& e : events) {
    std::this_thread::sleep_until(t0 + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                                           std::chrono::duration<double>(e.at_s)));
    e.run();
  }
  for (auto& t : pool) t.join();
  return result;
}

// ---------------------------------------------------------------- processes

std::unique_ptr<testing::ChildProcess> Start(std::vector<std::string> argv) {
  argv.insert(argv.begin(), testing::PhotosearchBin());
  return std::make_unique<testing::ChildProcess>(argv);
}

int WaitForPort(testing::ChildProcess& child, const std::string& what) {
  static const std::regex kListening(R"(listening on (?:http://)?[^ :]+:(\d+))");
  std::string line = child.WaitForLine("listening on", std::chrono::minutes(10));
  std::smatch m;
  if (!std::regex_search(line, m, kListening)) Die(what + " did not start");
  return std::stoi(m[1]);
}

// Waits until /readyz says ready with `shards` shards available.
void WaitReady(int port, size_t shards, const std::string& what) {
  testing::HttpClient client(port);
  for (int i = 0; i < 6000; ++i) {
    testing::HttpReply reply = client.Get("/readyz");
    if (reply.status == 200) {
      nlohmann::json j = nlohmann::json::parse(reply.body, nullptr, false);
      if (!j.is_discarded() && j.value("ready", false) && j.value("shards", 0) == int(shards)) return;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  Die(what + " did not become ready with " + std::to_string(shards) + " shards");
}

std::unique_ptr<testing::ChildProcess> StartGateway(const std::string& shards_yaml, int* port) {
  auto gateway = Start({"gateway", "--shards", shards_yaml, "--host", "127.0.0.1", "--port", "0",
                        "--deadline-ms", "1000", "--detector", "none", "--max-batch", "1"});
  *port = WaitForPort(*gateway, "gateway");
  return gateway;
}

void WriteShardsYaml(const std::string& path, const std::vector<int>& ports) {
  std::string text = "servers:\n";
  for (int p : ports) absl::StrAppend(&text, "  - 127.0.0.1:", p, "\n");
  OrDie(WriteFileAtomic(path, text), "writing " + path);
}

// Hard-links every published version of `window` from one repository into another.
void LinkWindow(const std::string& from_root, const std::string& to_root, const std::string& model,
                const std::string& window) {
  const fs::path from = fs::path(from_root) / "shards" / model / window;
  const fs::path to = fs::path(to_root) / "shards" / model / window;
  fs::create_directories(to);
  for (const auto& entry : fs::recursive_directory_iterator(from)) {
    const fs::path target = to / fs::relative(entry.path(), from);
    if (entry.is_directory()) {
      fs::create_directories(target);
    } else {
      fs::create_hard_link(entry.path(), target);
    }
  }
}

ArtifactManifest ShardManifest(const IndexSpec& spec, int dim, int64_t items,
                               const std::string& metric) {
  ArtifactManifest m;
  m.dimension = dim;
  m.metric = metric;
  m.index = spec.ToString();
  m.item_count = items;
  m.inputs["source"] = "bench_cluster synthetic";
  return m;
}

// Publishes `index_file` with ids `prefix` + i (i < n) as the next version of `window`.
ArtifactManifest PublishCopy(Repository& repo, const std::string& model, const std::string& window,
                             const std::string& index_file, int64_t n, const std::string& prefix,
                             const ArtifactManifest& manifest) {
  testing::ScratchDir dir;
  std::vector<std::string> ids(n);
  for (int64_t i = 0; i < n; ++i) ids[i] = absl::StrCat(prefix, i);
  OrDie(WriteFileAtomic(dir / Shard::kIdsFile, EncodeIds(ids)), "writing ids.bin");
  return OrDie(repo.Publish(ArtifactKey{"shard", model, window, 0, 1}, manifest,
                            {index_file, dir / Shard::kIdsFile}),
               "publishing " + window);
}

// ---------------------------------------------------------------- 1

struct SideResult {
  Summary s;
  int processes = 0;
  double front_cpu_ms = 0, back_cpu_ms = 0, client_cpu_ms = 0;  // CPU per query
  std::vector<std::vector<std::string>> ids;
};

// Runs the load with CPU snapshots at the window's ends. `front` is serve or
// the gateway; `back` the index servers.
SideResult Measure(int port, const std::vector<std::string>& bodies, const std::string& path,
                   const Flags& flags, int shards, pid_t front, const std::vector<pid_t>& back,
                   const std::string& what) {
  double cpu0[3], cpu1[3];
  auto snapshot = [&](double* out) {
    out[0] = CpuSeconds(front);
    out[1] = CpuSeconds(back);
    out[2] = CpuSeconds(getpid());
  };
  LoadResult load = RunHttpLoad(port, bodies, path, flags.clients, kWarmupSeconds + flags.seconds, shards, "",
                                {{kWarmupSeconds, [&] { snapshot(cpu0); }},
                                 {kWarmupSeconds + flags.seconds, [&] { snapshot(cpu1); }}});
  SideResult r;
  r.s = Summarize(load.samples, kWarmupSeconds, kWarmupSeconds + flags.seconds);
  if (r.s.failed > 0) {
    std::printf("  %s: %lld of %lld queries failed; first: %s; by kind: %s\n", what.c_str(),
                static_cast<long long>(r.s.failed), static_cast<long long>(r.s.n),
                load.first_error.c_str(), ErrorKinds(load.errors).c_str());
  }
  const double n = std::max<int64_t>(1, r.s.n);
  r.front_cpu_ms = (cpu1[0] - cpu0[0]) * 1000 / n;
  r.back_cpu_ms = (cpu1[1] - cpu0[1]) * 1000 / n;
  r.client_cpu_ms = (cpu1[2] - cpu0[2]) * 1000 / n;
  r.ids = std::move(load.first_ids);
  return r;
}

struct ClusterRow {
  int shards = 0;
  SideResult serve, gateway;
  int compared = 0, agreed = 0;
};

ClusterRow MeasureShards(int S, const Flags& flags, const std::string& master_root,
                         const std::string& model, const std::vector<std::string>& bodies,
                         const std::string& path) {
  ClusterRow row;
  row.shards = S;
  {  // (a) one process
    testing::ScratchDir repo;
    for (int w = 0; w < S; ++w) LinkWindow(master_root, repo.path(), model, HourWindow(w));
    Progress(absl::StrCat(S, " shard(s): starting serve"));
    auto serve = Start({"serve", "--repo", repo.path(), "--host", "127.0.0.1", "--port", "0",
                        "--poll-seconds", "0", "--detector", "none", "--max-batch", "1"});
    const int port = WaitForPort(*serve, "serve");
    WaitReady(port, S, "serve");
    Progress(absl::StrCat(S, " shard(s): serve ready; measuring"));
    row.serve = Measure(port, bodies, path, flags, S, serve->pid(), {}, "serve");
    row.serve.processes = 1;
    serve.reset();  // frees its shards before the index servers load theirs
  }
  {  // (b) index servers behind a gateway
    const int n = std::min(S, 4);
    Progress(absl::StrCat(S, " shard(s): starting ", n, " index server(s) and a gateway"));
    std::vector<std::unique_ptr<testing::ChildProcess>> servers;
    for (int j = 0; j < n; ++j) {
      std::vector<std::string> argv = {"index-server", "--repo", master_root, "--host", "127.0.0.1",
                                       "--port", "0", "--poll-seconds", "0"};
      for (int w = j; w < S; w += n) {
        argv.push_back("--select");
        argv.push_back(HourWindow(w));
      }
      servers.push_back(Start(argv));
    }
    std::vector<int> ports;
    std::vector<pid_t> pids;
    for (auto& s : servers) {
      ports.push_back(WaitForPort(*s, "index-server"));
      pids.push_back(s->pid());
    }
    testing::ScratchDir dir;
    WriteShardsYaml(dir / "shards.yaml", ports);
    int port = 0;
    auto gateway = StartGateway(dir / "shards.yaml", &port);
    WaitReady(port, S, "gateway");
    Progress(absl::StrCat(S, " shard(s): gateway ready; measuring"));
    row.gateway = Measure(port, bodies, path, flags, S, gateway->pid(), pids, "gateway");
    row.gateway.processes = n + 1;
    gateway.reset();
    servers.clear();
  }
  for (size_t q = 0; q < bodies.size(); ++q) {
    if (row.serve.ids[q].empty() || row.gateway.ids[q].empty()) continue;
    ++row.compared;
    row.agreed += row.serve.ids[q] == row.gateway.ids[q];
  }
  return row;
}

double TotalCpuMs(const SideResult& r) { return r.front_cpu_ms + r.back_cpu_ms + r.client_cpu_ms; }

void PrintClusterTable(const std::vector<ClusterRow>& rows, const Flags& flags) {
  std::printf("\n1. Gateway vs in-process (%lld vectors per shard, k %d, ef %d, %d clients, %.0f s each)\n",
              static_cast<long long>(flags.vectors), kK, flags.ef, flags.clients, flags.seconds);
  std::printf("| shards | side | processes | QPS | p50 ms | p99 ms | failed | CPU ms/query: front | index servers | clients | all | cores used |\n");
  std::printf("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n");
  for (const ClusterRow& r : rows) {
    for (const auto& [name, side] :
         {std::pair<const char*, const SideResult*>{"serve", &r.serve}, {"gateway", &r.gateway}}) {
      std::printf("| %d | %s | %d | %.0f | %.2f | %.2f | %lld | %.2f | %s | %.2f | %.2f | %.2f |\n",
                  r.shards, name, side->processes, side->s.qps, side->s.p50_ms, side->s.p99_ms,
                  static_cast<long long>(side->s.failed), side->front_cpu_ms,
                  side == &r.serve ? "-" : absl::StrFormat("%.2f", side->back_cpu_ms).c_str(),
                  side->client_cpu_ms, TotalCpuMs(*side), side->s.qps * TotalCpuMs(*side) / 1000);
    }
  }
  std::printf("\n| shards | gateway / in-process QPS | same, per CPU (in-process CPU/query / gateway's) | gateway p99 | bound 2 x p99 + 2 ms | top-10 agreement |\n");
  std::printf("| --- | --- | --- | --- | --- | --- |\n");
  for (const ClusterRow& r : rows) {
    const double ratio = r.gateway.s.qps / std::max(1e-9, r.serve.s.qps);
    const double bound = 2 * r.serve.s.p99_ms + 2;
    std::printf("| %d | %.2f%s | %.2f | %.2f ms | %.2f ms (%s) | %.1f%% of %d |\n", r.shards, ratio,
                r.shards == 4 ? (ratio >= 0.6 ? " (target >= 0.6: met)" : " (target >= 0.6: MISSED)")
                              : "",
                TotalCpuMs(r.serve) / std::max(1e-9, TotalCpuMs(r.gateway)), r.gateway.s.p99_ms, bound,
                r.gateway.s.p99_ms <= bound ? "met" : "MISSED",
                r.compared ? 100.0 * r.agreed / r.compared : 0.0, r.compared);
  }
}

// ---------------------------------------------------------------- 2

void MeasurePlanner(const Flags& flags, const ModelManifest& model, const std::vector<float>& data,
                    const std::string& day_index, const std::string& day_ids,
                    const IndexSpec& day_spec, const std::vector<float>& qvecs) {
  const int dim = model.dimension;
  const int64_t n = flags.vectors;
  testing::ScratchDir root, scratch;
  Repository repo(NewLocalStore(root.path()));
  Progress("planner: publishing the day and its 24 hours");
  OrDie(repo.Publish(ArtifactKey{"shard", model.id, kDayWindow, 0, 1},
                     ShardManifest(day_spec, dim, n, model.metric), {day_index, day_ids}),
        "publishing the day");
  std::string hour_spec;
  for (int h = 0; h < 24; ++h) {
    const int64_t lo = n * h / 24, hi = n * (h + 1) / 24;
    const IndexSpec spec = ChooseIndexSpec(hi - lo);  // as `photosearch index` would
    hour_spec = spec.ToString();
    auto shard = OrDie(Shard::Create(spec, dim, hi - lo), "creating an hour");
    std::vector<std::string> ids;
    for (int64_t i = lo; i < hi; ++i) ids.push_back(absl::StrCat("i", i));
    OrDie(shard->Add(ids, std::vector<float>(data.begin() + lo * dim, data.begin() + hi * dim)),
          "indexing an hour");
    testing::ScratchDir dir;
    OrDie(shard->Save(dir.path()), "saving an hour");
    OrDie(repo.Publish(ArtifactKey{"shard", model.id, HourWindow(h), 0, 1},
                       ShardManifest(spec, dim, hi - lo, model.metric),
                       {dir / Shard::IndexFileName(spec), dir / Shard::kIdsFile}),
          "publishing an hour");
  }
  ShardManager manager(&repo, model.id, dim, scratch.path());
  OrDie(manager.Refresh(), "loading the day and hours");
  LocalBackend backend(&manager);
  const std::vector<ShardId> available = backend.Available();
  const QueryPlan plan = PlanQuery(available, std::nullopt);
  std::vector<std::string> planned;
  for (const ShardId& id : plan.shards) planned.push_back(id.Name());
  Progress(absl::StrCat("planner: ", available.size(), " shards served; plan without a range: ",
                        absl::StrJoin(planned, ", ")));

  struct Run {
    Summary s;
    double cpu_ms = 0;  // CPU per query (this process)
    std::vector<std::vector<std::string>> ids;
  };
  auto run = [&](const std::vector<ShardId>& shards) {
    Run r;
    r.ids.resize(flags.queries);
    std::vector<Sample> samples;
    std::mutex mu;
    std::atomic<int64_t> next{0};
    const auto t0 = std::chrono::steady_clock::now();
    const double total = kWarmupSeconds + flags.seconds;
    std::vector<std::thread> pool;
    for (int c = 0; c < flags.clients; ++c) {
      pool.emplace_back([&] {
        std::vector<Sample> local;
        while (true) {
          Sample s;
          s.start_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
          if (s.start_s >= total) break;
          const int q = static_cast<int>(next++ % flags.queries);
          ShardQuery query;
          query.model = model.id;
          query.dimension = dim;
          query.vectors.assign(qvecs.begin() + int64_t(q) * dim, qvecs.begin() + int64_t(q + 1) * dim);
          query.k = kK;
          query.shard_k = kK;
          query.params.ef_search = flags.ef;
          query.shards = shards;
          query.deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
          Stopwatch watch;
          ShardAnswer answer = backend.Search(query);
          s.ms = watch.ElapsedMs();
          s.ok = answer.answered == static_cast<int>(shards.size()) && answer.per_query.size() == 1 &&
                 answer.per_query[0].size() == static_cast<size_t>(kK);
          local.push_back(s);
          if (s.ok && r.ids[q].empty()) {
            std::vector<std::string> ids;
            for (const SearchResult& hit : answer.per_query[0]) ids.push_back(hit.item_id);
            std::lock_guard<std::mutex> lock(mu);
            r.ids[q] = std::move(ids);
          }
        }
        std::lock_guard<std::mutex> lock(mu);
        samples.insert(samples.end(), local.begin(), local.end());
      });
    }
    double cpu0 = 0;
    std::this_thread::sleep_until(t0 + std::chrono::milliseconds(int64_t(kWarmupSeconds * 1000)));
    cpu0 = CpuSeconds(getpid());
    std::this_thread::sleep_until(t0 + std::chrono::milliseconds(int64_t(total * 1000)));
    const double cpu1 = CpuSeconds(getpid());
    for (auto& t : pool) t.join();
    r.s = Summarize(samples, kWarmupSeconds, total);
    r.cpu_ms = (cpu1 - cpu0) * 1000 / std::max<int64_t>(1, r.s.n);
    return r;
  };
  Progress("planner: measuring the planned query (the day)");
  Run one = run(plan.shards);
  Progress("planner: measuring the query over all 25 shards");
  Run all = run(available);
  // Overlap of the planned top-10 with the all-shards top-10 (the hours are
  // exact at this size, so this is about the day's HNSW recall).
  int64_t common = 0, total = 0;
  for (int q = 0; q < flags.queries; ++q) {
    if (one.ids[q].empty() || all.ids[q].empty()) continue;
    std::set<std::string> truth(all.ids[q].begin(), all.ids[q].end());
    for (const std::string& id : one.ids[q]) common += truth.count(id);
    total += kK;
  }
  std::printf("\n2. The planner's worth (in-process, ShardManager + LocalBackend, %d threads, %.0f s each)\n",
              flags.clients, flags.seconds);
  std::printf("day: %lld vectors, %s; 24 hours of %lld-%lld vectors, %s\n",
              static_cast<long long>(n), day_spec.ToString().c_str(),
              static_cast<long long>(n / 24), static_cast<long long>((n + 23) / 24), hour_spec.c_str());
  std::printf("| query | shards searched | QPS | p50 ms | p99 ms | failed | CPU ms/query |\n| --- | --- | --- | --- | --- | --- | --- |\n");
  std::printf("| planned (no range) | %zu | %.0f | %.2f | %.2f | %lld | %.2f |\n", plan.shards.size(),
              one.s.qps, one.s.p50_ms, one.s.p99_ms, static_cast<long long>(one.s.failed), one.cpu_ms);
  std::printf("| every served shard | %zu | %.0f | %.2f | %.2f | %lld | %.2f |\n", available.size(),
              all.s.qps, all.s.p50_ms, all.s.p99_ms, static_cast<long long>(all.s.failed), all.cpu_ms);
  const double ratio = one.s.qps / std::max(1e-9, all.s.qps);
  std::printf("ratio planned / all: QPS %.1fx (target >= 10x: %s), CPU per query %.1fx; planned top-10 "
              "overlap with the all-shards top-10 (exact hours): %.3f\n",
              ratio, ratio >= 10 ? "met" : "MISSED", all.cpu_ms / std::max(1e-9, one.cpu_ms),
              total ? double(common) / total : 0.0);
}

// ---------------------------------------------------------------- 3

void MeasureHotSwap(const Flags& flags, const ModelManifest& model, const std::string& index_file,
                    const IndexSpec& spec, const std::vector<std::string>& bodies,
                    const std::string& path) {
  testing::ScratchDir root, dir;
  Repository repo(NewLocalStore(root.path()));
  const ArtifactManifest manifest = ShardManifest(spec, model.dimension, flags.vectors, model.metric);
  PublishCopy(repo, model.id, kDayWindow, index_file, flags.vectors, "v1/", manifest);
  Progress(absl::StrCat("hot swap: starting an index server (--poll-seconds ",
                        flags.swap_poll_seconds, ") and a gateway"));
  auto server = Start({"index-server", "--repo", root.path(), "--host", "127.0.0.1", "--port", "0",
                       "--poll-seconds", std::to_string(flags.swap_poll_seconds)});
  WriteShardsYaml(dir / "shards.yaml", {WaitForPort(*server, "index-server")});
  int port = 0;
  auto gateway = StartGateway(dir / "shards.yaml", &port);
  WaitReady(port, 1, "gateway");
  Progress("hot swap: measuring (a window without, then one with a publish and swap)");
  const double a0 = kWarmupSeconds, a1 = a0 + flags.seconds, b1 = a1 + flags.seconds;
  double publish_s = 0;
  // CPU seconds of the index server, the gateway and this process at a0, a1, b1.
  double cpu[3][3];
  auto snapshot = [&](int at) {
    cpu[at][0] = CpuSeconds(server->pid());
    cpu[at][1] = CpuSeconds(gateway->pid());
    cpu[at][2] = CpuSeconds(getpid());
  };
  LoadResult load = RunHttpLoad(port, bodies, path, flags.clients, b1, 1, "v2/",
                                {{a0, [&] { snapshot(0); }},
                                 {a1, [&] {
                                    snapshot(1);
                                    Stopwatch watch;
                                    PublishCopy(repo, model.id, kDayWindow, index_file, flags.vectors,
                                                "v2/", manifest);
                                    publish_s = watch.ElapsedSeconds();
                                  }},
                                 {b1, [&] { snapshot(2); }}});
  const Summary before = Summarize(load.samples, a0, a1);
  const Summary during = Summarize(load.samples, a1, b1);
  double first_new = -1, last_old = -1;
  for (const Sample& s : load.samples) {
    if (s.ok && s.marked && (first_new < 0 || s.start_s < first_new)) first_new = s.start_s;
    if (s.ok && !s.marked) last_old = std::max(last_old, s.start_s);
  }
  std::printf("\n3. Hot swap (one index server, %lld vectors, gateway, %d clients, %.0f s windows)\n",
              static_cast<long long>(flags.vectors), flags.clients, flags.seconds);
  std::printf("| window | queries | QPS | p50 ms | p99 ms | max ms | failed | CPU s: index server | gateway | bench (clients, publish) |\n| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n");
  int w = 0;
  for (const auto& [name, s, from, to] :
       {std::tuple<const char*, const Summary*, double, double>{"no swap", &before, a0, a1},
        {"publish + swap", &during, a1, b1}}) {
    double max_ms = 0;
    for (const Sample& x : load.samples) {
      if (x.start_s >= from && x.start_s < to) max_ms = std::max(max_ms, x.ms);
    }
    std::printf("| %s | %lld | %.0f | %.2f | %.2f | %.1f | %lld | %.2f | %.2f | %.2f |\n", name,
                static_cast<long long>(s->n), s->qps, s->p50_ms, s->p99_ms, max_ms,
                static_cast<long long>(s->failed), cpu[w + 1][0] - cpu[w][0],
                cpu[w + 1][1] - cpu[w][1], cpu[w + 1][2] - cpu[w][2]);
    ++w;
  }
  if (first_new >= 0) {  // the stretch the swap can disturb: publish, poll, load, swap
    const Summary around = Summarize(load.samples, a1, std::min(b1, first_new + 1));
    std::printf("from the publish to 1 s after the swap (%.1f s): %lld queries, p99 %.2f ms\n",
                std::min(b1, first_new + 1) - a1, static_cast<long long>(around.n), around.p99_ms);
  }
  std::printf("p99 ratio swap / no swap %.2f; publish took %.2f s; first answer from the new version "
              "%s; last from the old at %.2f s after the publish started; failed queries: %lld%s\n",
              during.p99_ms / std::max(1e-9, before.p99_ms), publish_s,
              first_new < 0 ? "never (swap not seen)"
                            : absl::StrFormat("%.2f s after the publish started", first_new - a1).c_str(),
              last_old - a1, static_cast<long long>(before.failed + during.failed),
              load.first_error.empty() ? "" : (" (first: " + load.first_error + ")").c_str());
  if (!load.errors.empty()) std::printf("failures by kind: %s\n", ErrorKinds(load.errors).c_str());
}

}  // namespace

int main(int argc, char** argv) {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  spdlog::set_level(spdlog::level::warn);  // the in-process ShardManager's "loaded shard" lines
  const Flags flags = ParseFlags(argc, argv);
  const ModelManifest model = OrDie(LoadModelManifest(testing::DefaultModel()), "model");
  const int dim = model.dimension;
  const IndexSpec spec = OrDie(ParseIndexSpec(flags.index), "--index");
  std::printf("bench_cluster: %s, %d-d, %lld vectors per shard, %d queries, index %s, ef %d, binary %s\n",
              model.id.c_str(), dim, static_cast<long long>(flags.vectors), flags.queries,
              spec.ToString().c_str(), flags.ef, testing::PhotosearchBin().c_str());

  std::vector<float> data, qvecs;
  if (flags.data == "gaussian") {
    data = GaussianUnitRows(flags.vectors, dim, 1);
    qvecs = GaussianUnitRows(flags.queries, dim, 2);
  } else {
    const int rank = 48, clusters = 1000;
    const std::vector<float> centres = bench::RandomUnitRows(clusters, dim, 1);
    const std::vector<float> basis = bench::RandomUnitRows(rank, dim, 2);
    data = bench::Generate(flags.vectors, dim, centres, basis, rank, 10);
    qvecs = bench::Generate(flags.queries, dim, centres, basis, rank, 20);
  }
  Progress("generated the vectors and queries");

  // The one index build; its ids.bin (i0, i1, ...) is the day's in 2.
  testing::ScratchDir build;
  {
    Stopwatch watch;
    auto shard = OrDie(Shard::Create(spec, dim, flags.vectors), "creating the index");
    std::vector<std::string> ids(flags.vectors);
    for (int64_t i = 0; i < flags.vectors; ++i) ids[i] = absl::StrCat("i", i);
    OrDie(shard->Add(ids, data), "building the index");
    OrDie(shard->Save(build.path()), "saving the index");
    Progress(absl::StrFormat("built %s over %lld vectors in %.1f s", spec.ToString(),
                             static_cast<long long>(flags.vectors), watch.ElapsedSeconds()));
  }
  const std::string index_file = build / Shard::IndexFileName(spec);
  const std::string day_ids = build / Shard::kIdsFile;

  if (flags.measure.count(2)) MeasurePlanner(flags, model, data, index_file, day_ids, spec, qvecs);
  data = {};
  data.shrink_to_fit();

  const std::string path = absl::StrCat("/v1/search?k=", kK, "&ef=", flags.ef);
  std::vector<std::string> bodies(flags.queries);
  for (int q = 0; q < flags.queries; ++q) {
    std::string& b = bodies[q];
    b = "{\"vector\":[";
    for (int d = 0; d < dim; ++d) {
      absl::StrAppend(&b, d ? "," : "", absl::StrFormat("%.9g", qvecs[int64_t(q) * dim + d]));
    }
    absl::StrAppend(&b, "],\"model\":\"", model.id, "\"}");
  }

  if (flags.measure.count(1)) {
    testing::ScratchDir master;
    Repository repo(NewLocalStore(master.path()));
    const int most = *std::max_element(flags.shards.begin(), flags.shards.end());
    Stopwatch watch;
    const ArtifactManifest manifest = ShardManifest(spec, dim, flags.vectors, model.metric);
    for (int w = 0; w < most; ++w) {
      PublishCopy(repo, model.id, HourWindow(w), index_file, flags.vectors, HourWindow(w) + "/",
                  manifest);
    }
    Progress(absl::StrFormat("published %d copies in %.1f s", most, watch.ElapsedSeconds()));
    std::vector<ClusterRow> rows;
    for (int S : flags.shards) {
      rows.push_back(MeasureShards(S, flags, master.path(), model.id, bodies, path));
    }
    PrintClusterTable(rows, flags);
  }

  if (flags.measure.count(3)) MeasureHotSwap(flags, model, index_file, spec, bodies, path);
  Progress("done");
  return 0;
}
