// A small cluster on loopback: etcd, index servers per tier, a gateway, and
// `serve` over the same repository for comparison.
//
// The repository is built by `photosearch pipeline run` from grocery photos:
//   month/2026-10            12 items   server "month-a" and its replica "month-b"
//   day/2026-11-02 (2 parts) 16 items   servers "day-0" (part 0/2) and "day-1" (part 1/2)
//   hour/2026-11-02T05, T06   8 + 8     server "hours" (the same items as the day)
// The planner searches the month and the day's two partitions; the hours are
// used only when the day is incomplete.
#include <signal.h>

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <map>
#include <random>
#include <regex>
#include <set>
#include <thread>

#include "absl/strings/str_cat.h"
#include "base/files.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "photosearch/v1/index_service.grpc.pb.h"
#include "pipeline/folder_indexer.h"
#include "support/etcd_server.h"
#include "support/http_client.h"
#include "support/test_env.h"

namespace photosearch {
namespace {

namespace fs = std::filesystem;
namespace pb = ::photosearch::v1;
using ::testing::HasSubstr;
using json = nlohmann::json;
using Clock = std::chrono::steady_clock;

// Long enough that a loaded 2-core machine (tests and builds beside it) does
// not turn slow answers into missing shards; the fault tests check answers
// within it.
constexpr int kDeadlineMs = 3000;

struct Listing {
  std::string photo;  // file name under the photo folder
  std::string listed_at;
};

std::string ModelId() {
  auto text = ReadFile(testing::DefaultModel(), 1 << 20);
  return json::parse(*text)["id"].get<std::string>();
}

// An index server child process and the address it listens on.
struct IndexServerProcess {
  std::unique_ptr<testing::ChildProcess> child;
  std::string address;
  std::vector<std::string> args;
};

class ClusterTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    env_ = new Env;
    env_->Build();
  }
  static void TearDownTestSuite() {
    delete env_;
    env_ = nullptr;
  }

  struct Env {
    testing::ScratchDir dir;
    std::string photos_dir = testing::AssetsDir() + "/photos/grocery_store/test/Vegetables";
    std::string repo;
    std::string catalog;
    std::vector<Listing> listings;
    std::string model = ModelId();
    std::unique_ptr<testing::ChildProcess> etcd;
    std::string etcd_dir;
    int etcd_port = -1;
    std::map<std::string, IndexServerProcess> servers;
    std::unique_ptr<testing::ChildProcess> gateway;
    int gateway_port = -1;
    std::unique_ptr<testing::ChildProcess> serve;
    int serve_port = -1;
    bool ok = false;

    void WriteCatalog() {
      std::string text;
      for (const Listing& l : listings) {
        text += json{{"item_id", l.photo},
                     {"image_url", "file://" + photos_dir + "/" + l.photo},
                     {"listed_at", l.listed_at}}
                    .dump() +
                "\n";
      }
      ASSERT_TRUE(WriteFileAtomic(catalog, text).ok());
    }

    void Pipeline(const std::string& window, const std::string& partition, bool from_images) {
      std::vector<std::string> args = {testing::PhotosearchBin(), "pipeline", "run", "--window",
                                       window, "--partition", partition, "--catalog", catalog,
                                       "--repo", repo, "--file-root", photos_dir, "--index",
                                       "faiss:Flat", "--max-batch", "8"};
      if (from_images) args.push_back("--from-images");
      std::string output;
      ASSERT_EQ(testing::RunCommand(args, &output), 0) << output;
    }

    IndexServerProcess StartIndexServer(const std::vector<std::string>& select) {
      IndexServerProcess p;
      p.args = {testing::PhotosearchBin(), "index-server", "--repo", repo, "--port", "0",
                "--etcd", absl::StrCat("http://127.0.0.1:", etcd_port), "--lease-ttl", "3",
                "--poll-seconds", "1"};
      p.args.insert(p.args.end(), select.begin(), select.end());
      p.child = std::make_unique<testing::ChildProcess>(p.args);
      p.address = testing::WaitForGrpcAddress(*p.child, std::chrono::seconds(180));
      return p;
    }

    void Build() {
      repo = dir / "repo";
      catalog = dir / "catalog.jsonl";
      int64_t ignored = 0;
      auto photos = ListPhotos(photos_dir, &ignored);
      ASSERT_TRUE(photos.ok()) << photos.status();
      ASSERT_GE(photos->size(), 40u);
      // Spread over the folder's classes: every third photo.
      for (int i = 0; i < 12; ++i) {
        listings.push_back({(*photos)[3 * i], absl::StrCat("2026-10-", 10 + i, "T08:00:00Z")});
      }
      for (int i = 0; i < 16; ++i) {
        listings.push_back({(*photos)[3 * (12 + i)],
                            absl::StrCat("2026-11-02T0", i < 8 ? 5 : 6, ":", 10 + i, ":00Z")});
      }
      WriteCatalog();
      Pipeline("month/2026-10", "0/1", true);
      Pipeline("day/2026-11-02", "0/2", true);
      Pipeline("day/2026-11-02", "1/2", true);
      Pipeline("hour/2026-11-02T05", "0/1", false);
      Pipeline("hour/2026-11-02T06", "0/1", false);

      etcd_dir = dir / "etcd";
      etcd = testing::StartEtcd(etcd_dir, &etcd_port);
      ASSERT_GT(etcd_port, 0) << "etcd did not start (scripts/setup installs etcd-server)";
      servers["month-a"] = StartIndexServer({"--select", "month/*"});
      servers["month-b"] = StartIndexServer({"--select", "month/*"});
      servers["day-0"] = StartIndexServer({"--select", "day/*", "--partition", "0/2"});
      servers["day-1"] = StartIndexServer({"--select", "day/*", "--partition", "1/2"});
      servers["hours"] = StartIndexServer({"--select", "hour/*"});
      for (auto& [name, s] : servers) ASSERT_FALSE(s.address.empty()) << name << " did not start";

      gateway = std::make_unique<testing::ChildProcess>(std::vector<std::string>{
          testing::PhotosearchBin(), "gateway", "--etcd",
          absl::StrCat("http://127.0.0.1:", etcd_port), "--port", "0", "--detector", "none",
          "--deadline-ms", std::to_string(kDeadlineMs), "--health-ms", "300", "--max-batch", "4"});
      std::string line = gateway->WaitForLine("listening on http://", std::chrono::seconds(180));
      ASSERT_FALSE(line.empty()) << "the gateway did not start";
      gateway_port = std::atoi(line.c_str() + line.rfind(':') + 1);
      serve = testing::StartServe(
          {"--repo", repo, "--poll-seconds", "0", "--detector", "none", "--max-batch", "4"},
          &serve_port);
      ASSERT_GT(serve_port, 0);
      ok = true;
    }
  };

  void SetUp() override { ASSERT_TRUE(env_ && env_->ok) << "the cluster did not start"; }

  static json Get(int port, const std::string& path) {
    testing::HttpReply reply = testing::HttpClient(port).Get(path);
    EXPECT_EQ(reply.status, 200) << path << ": " << reply.body;
    return reply.status == 200 ? json::parse(reply.body) : json();
  }

  // The names of the shards the gateway lists as serving.
  static std::set<std::string> Serving() {
    std::set<std::string> names;
    json shards = Get(env_->gateway_port, "/v1/shards");
    if (!shards.is_object()) return names;
    for (const json& s : shards["shards"]) {
      if (s["state"] == "serving") names.insert(s["name"].get<std::string>());
    }
    return names;
  }

  // Polls `condition` every 100 ms for up to `seconds`.
  static bool WaitFor(const std::function<bool()>& condition, double seconds) {
    const auto until = Clock::now() + std::chrono::milliseconds(static_cast<int>(seconds * 1000));
    while (Clock::now() < until) {
      if (condition()) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return condition();
  }

  // How many index servers the gateway lists for the month.
  static size_t MonthServers() {
    json shards = Get(env_->gateway_port, "/v1/shards");
    for (const json& s : shards["shards"]) {
      if (s["window"] == "month/2026-10") return s["servers"].size();
    }
    return 0;
  }

  static std::string VectorQuery(uint32_t seed) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> normal;
    std::vector<float> v(1280);
    for (float& x : v) x = normal(rng);
    return json{{"vector", v}, {"model", env_->model}}.dump();
  }

  static Env* env_;
};

ClusterTest::Env* ClusterTest::env_ = nullptr;

const std::set<std::string> kTopPlan = {"day/2026-11-02/part-0-of-2", "day/2026-11-02/part-1-of-2",
                                        "month/2026-10/part-0-of-1"};

TEST_F(ClusterTest, GatewayAnswersExactlyAsServe) {
  ASSERT_TRUE(WaitFor([] { return Serving().size() == 5; }, 15)) << Get(env_->gateway_port, "/v1/shards").dump();
  testing::HttpClient gateway(env_->gateway_port), serve(env_->serve_port);
  int compared = 0;
  for (const Listing& l : env_->listings) {
    const std::string photo = *ReadFile(env_->photos_dir + "/" + l.photo, 64 << 20);
    testing::HttpReply g = gateway.Post("/v1/search?k=10", photo, "image/jpeg");
    testing::HttpReply s = serve.Post("/v1/search?k=10", photo, "image/jpeg");
    ASSERT_EQ(g.status, 200) << g.body;
    ASSERT_EQ(s.status, 200) << s.body;
    json gj = json::parse(g.body), sj = json::parse(s.body);
    EXPECT_EQ(gj["plan"], sj["plan"]);
    std::set<std::string> plan;
    for (const json& name : gj["plan"]["shards"]) plan.insert(name.get<std::string>());
    EXPECT_EQ(plan, kTopPlan);
    EXPECT_EQ(gj["partial"], false);
    EXPECT_EQ(gj["shards_searched"], 3);
    ASSERT_EQ(gj["results"].size(), sj["results"].size());
    ASSERT_EQ(gj["results"].size(), 10u);
    EXPECT_EQ(gj["results"][0]["item_id"], l.photo);
    for (size_t i = 0; i < gj["results"].size(); ++i) {
      const json& a = gj["results"][i];
      const json& b = sj["results"][i];
      EXPECT_EQ(a["item_id"], b["item_id"]) << l.photo << " rank " << i;
      EXPECT_EQ(a["shard"], b["shard"]) << l.photo << " rank " << i;
      EXPECT_NEAR(a["score"].get<double>(), b["score"].get<double>(), 1e-5);
    }
    ++compared;
  }
  EXPECT_EQ(compared, 28);

  // Windows are searched whole: a range inside the day plans the whole day.
  json shards = Get(env_->gateway_port, "/v1/shards?from=2026-11-02T05:00:00Z&to=2026-11-02T06:00:00Z");
  EXPECT_EQ(shards["plan"]["shards"].size(), 2u) << shards["plan"];
  json month = Get(env_->gateway_port, "/v1/shards?from=2026-09-15&to=2026-10-31");
  EXPECT_EQ(month["plan"]["shards"], json::array({"month/2026-10/part-0-of-1"}));
  ASSERT_EQ(month["plan"]["gaps"].size(), 1u);
  EXPECT_EQ(month["plan"]["gaps"][0]["from"], "2026-09-15T00:00:00Z");
  EXPECT_EQ(month["plan"]["gaps"][0]["to"], "2026-10-01T00:00:00Z");
}

TEST_F(ClusterTest, BadInputIsRefusedAtTheGatewayAndOverGrpc) {
  testing::HttpClient gateway(env_->gateway_port);
  const std::string query = VectorQuery(1);
  for (const std::string& params :
       {"from=2026-11-03&to=2026-11-01", "from=yesterday", "to=2026-13-01",
        "from=2010-01-01&to=2026-01-01", "k=0", "k=100000", "ef=-1", "detect=sideways"}) {
    testing::HttpReply reply = gateway.Post("/v1/search?" + params, query, "application/json");
    EXPECT_EQ(reply.status, 400) << params << ": " << reply.body;
    EXPECT_EQ(json::parse(reply.body)["error"]["code"], "INVALID_ARGUMENT") << params;
  }
  // A range nothing serves is an empty answer that says so, not an error.
  testing::HttpReply empty =
      gateway.Post("/v1/search?from=2020-01-01&to=2020-01-31", query, "application/json");
  ASSERT_EQ(empty.status, 200) << empty.body;
  json ej = json::parse(empty.body);
  EXPECT_TRUE(ej["results"].empty());
  EXPECT_TRUE(ej["plan"]["shards"].empty());
  EXPECT_EQ(ej["plan"]["gaps"],
            json::array({json{{"from", "2020-01-01T00:00:00Z"}, {"to", "2020-02-01T00:00:00Z"}}}));
  EXPECT_EQ(gateway.Post("/v1/search", "{\"vector\": [1, 2]}", "application/json").status, 400);
  EXPECT_EQ(gateway.Post("/v1/search", "not a photo", "image/jpeg").status, 400);
  EXPECT_EQ(gateway.Post("/v1/search", "x", "text/plain").status, 415);
  EXPECT_EQ(gateway.Get("/v1/shards?from=2026-11-03&to=2026-11-01").status, 400);

  // Straight to an index server.
  auto channel = grpc::CreateChannel(env_->servers["month-a"].address,
                                     grpc::InsecureChannelCredentials());
  auto stub = pb::IndexService::NewStub(channel);
  auto valid = [] {
    pb::SearchRequest r;
    r.set_model(env_->model);
    r.set_dimension(1280);
    for (int i = 0; i < 1280; ++i) r.add_vectors(i == 0 ? 1.f : 0.f);
    r.set_k(5);
    r.add_shards("month/2026-10/part-0-of-1");
    return r;
  };
  auto call = [&](const pb::SearchRequest& r, pb::SearchResponse* out) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    return stub->Search(&context, r, out);
  };
  std::vector<std::pair<std::string, pb::SearchRequest>> bad;
  bad.emplace_back("wrong dimension", valid());
  bad.back().second.set_dimension(3);
  bad.emplace_back("values not a multiple", valid());
  bad.back().second.add_vectors(1.f);
  bad.emplace_back("NaN", valid());
  bad.back().second.set_vectors(7, std::nanf(""));
  bad.emplace_back("k 0", valid());
  bad.back().second.set_k(0);
  bad.emplace_back("k 1001", valid());
  bad.back().second.set_k(1001);
  bad.emplace_back("unknown shard", valid());
  bad.back().second.set_shards(0, "day/2026-11-02/part-0-of-2");
  bad.emplace_back("garbage shard", valid());
  bad.back().second.set_shards(0, std::string("\xff/../x\0y", 9));
  bad.emplace_back("no shard", valid());
  bad.back().second.clear_shards();
  bad.emplace_back("wrong model", valid());
  bad.back().second.set_model("other@1");
  bad.emplace_back("ef", valid());
  bad.back().second.mutable_params()->set_ef_search(-5);
  for (const auto& [what, request] : bad) {
    pb::SearchResponse response;
    grpc::Status status = call(request, &response);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT)
        << what << ": " << status.error_message();
  }
  pb::SearchResponse response;
  grpc::Status status = call(valid(), &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  ASSERT_EQ(response.shards_size(), 1);
  EXPECT_THAT(response.shards(0).shard(), HasSubstr("month/2026-10/part-0-of-1@v"));
  EXPECT_EQ(response.shards(0).queries(0).hits_size(), 5);
}

TEST_F(ClusterTest, AnIndexServerServesMetricsOverHttpWhenAsked) {
  testing::ChildProcess server({testing::PhotosearchBin(), "index-server", "--repo", env_->repo,
                                "--port", "0", "--http-port", "0", "--select", "hour/*"});
  ASSERT_FALSE(server.WaitForLine("listening on", std::chrono::seconds(180)).empty());
  std::string line = server.WaitForLine("metrics on http://", std::chrono::seconds(10));
  ASSERT_FALSE(line.empty());
  const int port = std::atoi(line.c_str() + line.rfind(':') + 1);
  testing::HttpReply metrics = testing::HttpClient(port).Get("/metrics");
  ASSERT_EQ(metrics.status, 200);
  EXPECT_THAT(metrics.body, HasSubstr("photosearch_index_server_invalid_requests_total"));
  EXPECT_EQ(testing::HttpClient(port).Get("/healthz").status, 200);
  // A repository path that does not exist is a typo, not an empty repository.
  std::string output;
  EXPECT_EQ(testing::RunCommand({testing::PhotosearchBin(), "index-server", "--repo",
                                 env_->dir / "no-such-repo", "--port", "0"},
                                &output),
            1);
  EXPECT_THAT(output, HasSubstr("does not exist"));
}

// A gateway that has found nothing is not ready, says why, and answers
// queries 503 (not an empty result).
TEST_F(ClusterTest, AGatewayWithoutIndexServersIsNotReady) {
  const int dead = testing::FreeLoopbackPort();
  const std::string list = env_->dir / "dead.yaml";
  ASSERT_TRUE(WriteFileAtomic(list, absl::StrCat("servers:\n  - 127.0.0.1:", dead, "\n")).ok());
  for (const std::vector<std::string>& discovery :
       {std::vector<std::string>{"--etcd", absl::StrCat("http://127.0.0.1:", dead)},
        std::vector<std::string>{"--shards", list}}) {
    std::vector<std::string> argv = {testing::PhotosearchBin(), "gateway", "--port", "0",
                                     "--detector", "none", "--max-batch", "1"};
    argv.insert(argv.end(), discovery.begin(), discovery.end());
    testing::ChildProcess gateway(argv);
    std::string line = gateway.WaitForLine("listening on http://", std::chrono::seconds(180));
    ASSERT_FALSE(line.empty()) << discovery[0];
    testing::HttpClient client(std::atoi(line.c_str() + line.rfind(':') + 1));
    testing::HttpReply ready = client.Get("/readyz");
    EXPECT_EQ(ready.status, 503) << ready.body;
    EXPECT_FALSE(json::parse(ready.body)["reason"].get<std::string>().empty()) << ready.body;
    testing::HttpReply search = client.Post("/v1/search", VectorQuery(3), "application/json");
    EXPECT_EQ(search.status, 503) << search.body;
  }
}

TEST_F(ClusterTest, HotSwapFailsNoQueryAndServesTheNewVersion) {
  ASSERT_TRUE(WaitFor([] { return Serving().size() == 5; }, 15));
  // A query photo that is listed only in the new version of the hour.
  int64_t ignored = 0;
  std::vector<std::string> photos = *ListPhotos(env_->photos_dir, &ignored);
  const std::string added = photos[100];
  ASSERT_EQ(std::count_if(env_->listings.begin(), env_->listings.end(),
                          [&](const Listing& l) { return l.photo == added; }),
            0);
  const std::string photo = *ReadFile(env_->photos_dir + "/" + added, 64 << 20);

  std::atomic<bool> stop{false};
  std::atomic<int> queries{0}, failed{0}, partial{0};
  std::string first_failure;
  std::thread client([&] {
    testing::HttpClient gateway(env_->gateway_port);
    uint32_t seed = 100;
    while (!stop.load()) {
      testing::HttpReply r = gateway.Post("/v1/search?k=5", VectorQuery(seed++), "application/json");
      ++queries;
      if (r.status != 200) {
        if (failed++ == 0) first_failure = r.body;
        continue;
      }
      if (json::parse(r.body)["partial"] == true) ++partial;
    }
  });
  // The day rollup hides the hours from the planner; the swap that matters
  // to queries is of a planned shard: publish a new version of day part 0
  // and part 1 with the added listing (whichever partition holds it).
  env_->listings.push_back({added, "2026-11-02T06:59:00Z"});
  env_->WriteCatalog();
  env_->Pipeline("day/2026-11-02", "0/2", true);
  env_->Pipeline("day/2026-11-02", "1/2", true);
  const bool swapped = WaitFor(
      [] {
        json shards = Get(env_->gateway_port, "/v1/shards");
        int v2 = 0;
        for (const json& s : shards["shards"]) {
          if (s["window"] == "day/2026-11-02" && s["version"].get<int>() >= 2) ++v2;
        }
        return v2 >= 1;
      },
      20);
  std::this_thread::sleep_for(std::chrono::seconds(1));
  stop = true;
  client.join();
  ASSERT_TRUE(swapped) << Get(env_->gateway_port, "/v1/shards").dump();
  EXPECT_GT(queries.load(), 10);
  EXPECT_EQ(failed.load(), 0) << first_failure;
  EXPECT_EQ(partial.load(), 0);

  testing::HttpReply r = testing::HttpClient(env_->gateway_port).Post("/v1/search?k=3", photo, "image/jpeg");
  ASSERT_EQ(r.status, 200) << r.body;
  json results = json::parse(r.body)["results"];
  EXPECT_EQ(results[0]["item_id"], added) << r.body;
  EXPECT_THAT(results[0]["shard"].get<std::string>(), HasSubstr("day/2026-11-02/part-"));
  EXPECT_THAT(results[0]["shard"].get<std::string>(), HasSubstr("@v2"));
}

// Sends vector queries without pause until stopped; checks every answer.
class QueryLoad {
 public:
  explicit QueryLoad(int port) {
    thread_ = std::thread([this, port] {
      testing::HttpClient gateway(port);
      uint32_t seed = 1000;
      while (!stop_.load()) {
        const auto start = Clock::now();
        testing::HttpReply r =
            gateway.Post("/v1/search?k=5", ClusterTestVector(seed++), "application/json");
        const double ms = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
        std::lock_guard<std::mutex> lock(mu_);
        ++queries_;
        slowest_ms_ = std::max(slowest_ms_, ms);
        if (r.status != 200) {
          failures_.push_back(absl::StrCat(r.status, " ", r.body.substr(0, 300)));
          continue;
        }
        json j = json::parse(r.body);
        std::set<std::string> plan;
        for (const json& s : j["plan"]["shards"]) plan.insert(s.get<std::string>());
        std::vector<std::string> missing = j["missing_shards"];
        if (j["partial"] != !missing.empty()) failures_.push_back("partial flag wrong: " + r.body);
        for (const std::string& m : missing) missing_[m]++;
        if (!missing.empty()) ++partial_;
      }
    });
  }
  ~QueryLoad() { Stop(); }
  void Stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  static std::string ClusterTestVector(uint32_t seed) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> normal;
    std::vector<float> v(1280);
    for (float& x : v) x = normal(rng);
    static const std::string model = ModelId();
    return json{{"vector", v}, {"model", model}}.dump();
  }

  int queries() const { return queries_; }
  int partial() const { return partial_; }
  double slowest_ms() const { return slowest_ms_; }
  const std::vector<std::string>& failures() const { return failures_; }
  const std::map<std::string, int>& missing() const { return missing_; }

 private:
  std::atomic<bool> stop_{false};
  std::thread thread_;
  mutable std::mutex mu_;
  int queries_ = 0, partial_ = 0;
  double slowest_ms_ = 0;
  std::vector<std::string> failures_;
  std::map<std::string, int> missing_;
};

TEST_F(ClusterTest, KilledReplicaOfAPairCostsNoQuery) {
  ASSERT_TRUE(WaitFor([] { return Serving().size() == 5; }, 15));
  QueryLoad load(env_->gateway_port);
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  ::kill(env_->servers["month-a"].child->pid(), SIGKILL);
  std::this_thread::sleep_for(std::chrono::seconds(2));
  load.Stop();
  std::printf("replica killed: %d queries, %d partial, slowest %.1f ms\n", load.queries(),
              load.partial(), load.slowest_ms());
  EXPECT_GT(load.queries(), 10);
  EXPECT_THAT(load.failures(), ::testing::IsEmpty());
  EXPECT_EQ(load.partial(), 0);
  EXPECT_LT(load.slowest_ms(), kDeadlineMs + 100);
  // After the lease: only month-b serves the month.
  ASSERT_TRUE(WaitFor(
      [] { return MonthServers() == 1; },
      10));
  env_->servers["month-a"].child->Stop(SIGKILL, std::chrono::seconds(5));
}

TEST_F(ClusterTest, KilledServerMakesItsShardPartialThenItsWindowFallsBackToHours) {
  ASSERT_TRUE(WaitFor([] { return Serving().count("day/2026-11-02/part-0-of-2") == 1; }, 15));
  QueryLoad load(env_->gateway_port);
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  IndexServerProcess& day0 = env_->servers["day-0"];
  ::kill(day0.child->pid(), SIGKILL);
  std::this_thread::sleep_for(std::chrono::seconds(2));
  load.Stop();
  std::printf("day-0 killed: %d queries, %d partial, slowest %.1f ms\n", load.queries(),
              load.partial(), load.slowest_ms());
  EXPECT_GT(load.queries(), 10);
  EXPECT_THAT(load.failures(), ::testing::IsEmpty());
  EXPECT_LT(load.slowest_ms(), kDeadlineMs + 100);
  for (const auto& [name, count] : load.missing()) {
    EXPECT_EQ(name, "day/2026-11-02/part-0-of-2") << "only the killed server's shard is missing";
  }
  // Without part 0 the day is incomplete: its hours are planned instead.
  json plan = Get(env_->gateway_port, "/v1/shards?from=2026-11-02&to=2026-11-02")["plan"];
  EXPECT_EQ(plan["shards"], json::array({"hour/2026-11-02T05/part-0-of-1",
                                         "hour/2026-11-02T06/part-0-of-1"}))
      << plan;
  EXPECT_EQ(plan["gaps"].size(), 2u) << plan;  // 00-05 and 07-24
  // After the lease expires the registration is gone too.
  EXPECT_TRUE(WaitFor([] { return Serving().count("day/2026-11-02/part-0-of-2") == 0 &&
                                  Get(env_->gateway_port, "/v1/shards")["shards"].size() == 4u; },
                      10))
      << Get(env_->gateway_port, "/v1/shards").dump();

  // Restarted (a new port: a new registration), it is planned again.
  day0.child->Stop(SIGKILL, std::chrono::seconds(5));
  day0 = env_->StartIndexServer({"--select", "day/*", "--partition", "0/2"});
  ASSERT_FALSE(day0.address.empty());
  EXPECT_TRUE(WaitFor(
      [] {
        json plan = Get(env_->gateway_port, "/v1/shards?from=2026-11-02&to=2026-11-02")["plan"];
        return plan["shards"].size() == 2u &&
               plan["shards"][0] == "day/2026-11-02/part-0-of-2";
      },
      15));
}

TEST_F(ClusterTest, EtcdDownKeepsTheLastViewAndItsRestartBringsRegistrationsBack) {
  ASSERT_TRUE(WaitFor([] { return Serving().size() == 5; }, 15))
      << Get(env_->gateway_port, "/v1/shards").dump();
  const std::set<std::string> before = Serving();
  env_->etcd->Stop(SIGTERM, std::chrono::seconds(10));
  env_->etcd.reset();
  testing::HttpClient gateway(env_->gateway_port);
  ASSERT_TRUE(WaitFor(
      [&] {
        testing::HttpReply r = gateway.Get("/readyz");
        return r.status == 200 && r.body.find("stale view") != std::string::npos;
      },
      10))
      << gateway.Get("/readyz").body;
  for (uint32_t seed = 0; seed < 20; ++seed) {
    testing::HttpReply r = gateway.Post("/v1/search?k=5", VectorQuery(seed), "application/json");
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(json::parse(r.body)["partial"], false);
  }
  EXPECT_EQ(Serving(), before);

  int port = env_->etcd_port;
  env_->etcd = testing::StartEtcd(env_->etcd_dir, &port, env_->etcd_port);
  ASSERT_EQ(port, env_->etcd_port);
  EXPECT_TRUE(WaitFor(
      [&] {
        testing::HttpReply r = gateway.Get("/readyz");
        return r.status == 200 && r.body.find("stale") == std::string::npos;
      },
      15))
      << gateway.Get("/readyz").body;
  EXPECT_TRUE(WaitFor([&] { return Serving() == before; }, 10));
  // A server started now registers, and is seen.
  env_->servers["month-c"] = env_->StartIndexServer({"--select", "month/*"});
  EXPECT_TRUE(WaitFor(
      [] { return MonthServers() == 2; },
      10));
  // SIGTERM revokes its lease: the gateway drops it at once, not after the TTL.
  const auto stopped = Clock::now();
  env_->servers["month-c"].child->Stop(SIGTERM, std::chrono::seconds(10));
  EXPECT_TRUE(WaitFor(
      [] { return MonthServers() == 1; },
      10));
  const double gone_s = std::chrono::duration<double>(Clock::now() - stopped).count();
  std::printf("SIGTERM to unregistered: %.2f s (lease TTL 3 s)\n", gone_s);
  EXPECT_LT(gone_s, 1.5);
}

}  // namespace
}  // namespace photosearch
