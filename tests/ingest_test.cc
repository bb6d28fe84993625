// Live ingest end to end on loopback: redis-server, etcd, two index servers
// (hours; days and months), a gateway and one or two `photosearch ingest`
// consumers, over a repository built by the pipeline (run in this process
// with the bundled model). Queries go through the gateway as JSON vectors:
// each photo's own embedding, computed here once (an edge client's query),
// so that a query costs milliseconds and a measured delay is the ingest's.
//
// The tests run in order and share the cluster:
//   Freshness    200 events at 20/s: each found at rank 1, p99 from XADD <= 2 s
//   Handover     the hour of those listings is built while queries run
//   BadEvents    every kind of bad event lands in the dead-letter stream
//   Deletes      50 deletes over day, hour and live shards; rollups after
//   Crash        kill -9 during a burst, restart: all once, nothing re-embedded
//   TwoConsumers kill one of two consumers: the other claims its pending events
//   RedisDown    the live shard serves while Redis is down; consuming resumes
//   EtcdRestart  the live tier is discovered again
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <map>
#include <regex>
#include <set>
#include <thread>

#include <httplib.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "artifact/run_record.h"
#include "base/files.h"
#include "base/sha256.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "index/shard.h"
#include "ingest/redis_client.h"
#include "model/photo_embedder.h"
#include "nlohmann/json.hpp"
#include "pipeline/folder_indexer.h"
#include "pipeline/window_pipeline.h"
#include "support/etcd_server.h"
#include "support/http_client.h"
#include "support/redis_server.h"
#include "support/test_env.h"

namespace photosearch {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;
using Clock = std::chrono::steady_clock;

constexpr int kDim = 1280;

double Seconds(Clock::time_point since) {
  return std::chrono::duration<double>(Clock::now() - since).count();
}

bool WaitFor(const std::function<bool()>& condition, double seconds) {
  const auto until = Clock::now() + std::chrono::milliseconds(static_cast<int>(seconds * 1000));
  while (Clock::now() < until) {
    if (condition()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return condition();
}

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p * v.size()))];
}

struct Photo {
  std::string path;  // absolute
  std::vector<float> vector;
};

// A process under test and the ports it printed.
struct Process {
  std::unique_ptr<testing::ChildProcess> child;
  std::vector<std::string> args;
  std::string grpc;  // host:port
  int http = -1;
};

class IngestTest : public ::testing::Test {
 protected:
  struct Env {
    testing::ScratchDir dir;
    std::string photos_root = testing::AssetsDir() + "/photos/grocery_store/test";
    std::string repo_dir, catalog, redis_dir, etcd_dir;
    std::unique_ptr<Repository> repo;
    std::unique_ptr<PhotoEmbedder> embedder;
    std::string model;
    std::vector<Photo> photos;  // distinct photos, each used by one listing
    size_t next_photo = 0;
    std::map<std::string, const Photo*> items;  // item id -> its photo
    std::string catalog_text;
    std::unique_ptr<testing::ChildProcess> redis, etcd;
    int redis_port = -1, etcd_port = -1;
    std::map<std::string, Process> servers;
    Process gateway;
    Process serve;  // one process over the same repository: tombstones apply there too
    std::map<std::string, Process> ingests;
    bool ok = false;

    const Photo* NextPhoto() { return &photos.at(next_photo++); }

    void AddCatalogRow(const std::string& item, const Photo* photo, const std::string& listed_at) {
      catalog_text += json{{"item_id", item}, {"image_url", "file://" + photo->path},
                           {"listed_at", listed_at}}
                          .dump() +
                      "\n";
      ASSERT_TRUE(WriteFileAtomic(catalog, catalog_text).ok());
    }

    PipelineRun Pipeline(const std::string& window) {
      PipelineOptions options;
      options.catalog = catalog;
      options.window = window;
      options.index_spec = "faiss:Flat";
      options.fetch.file_root = photos_root;
      options.fetch.cache_dir = dir / "fetch-cache";
      options.work_dir = dir / "work";
      auto run = RunPipeline(*embedder, *repo, options);
      EXPECT_TRUE(run.ok()) << window << ": " << run.status();
      if (!run.ok()) return {};
      EXPECT_EQ(run->status, "succeeded") << window << ": " << run->error;
      return *run;
    }

    // Every hour of a day, then the day.
    void Day(const std::string& day) {
      for (int h = 0; h < 24; ++h) Pipeline(absl::StrFormat("hour/%sT%02d", day, h));
      Pipeline("day/" + day);
    }

    Process StartIndexServer(const std::vector<std::string>& select) {
      Process p;
      p.args = {testing::PhotosearchBin(), "index-server", "--repo", repo_dir, "--port", "0",
                "--etcd", Etcd(), "--lease-ttl", "3", "--poll-seconds", "1"};
      p.args.insert(p.args.end(), select.begin(), select.end());
      p.child = std::make_unique<testing::ChildProcess>(p.args);
      p.grpc = testing::WaitForGrpcAddress(*p.child, std::chrono::seconds(180));
      return p;
    }

    std::string Etcd() const { return absl::StrCat("http://127.0.0.1:", etcd_port); }
    std::string Redis() const { return absl::StrCat("redis://127.0.0.1:", redis_port); }

    Process StartIngest(const std::string& consumer) {
      Process p;
      p.args = {testing::PhotosearchBin(), "ingest", "--redis", Redis(), "--consumer", consumer,
                "--repo", repo_dir, "--port", "0", "--http-port", "0", "--etcd", Etcd(),
                "--lease-ttl", "3", "--file-root", photos_root, "--wal", dir / ("wal-" + consumer),
                "--cache-dir", dir / ("cache-" + consumer), "--max-batch", "4",
                "--handover-delay-ms", "1000", "--claim-idle-ms", "3000"};
      p.child = std::make_unique<testing::ChildProcess>(p.args);
      p.grpc = testing::WaitForGrpcAddress(*p.child, std::chrono::seconds(180));
      std::string line = p.child->WaitForLine("status on http://", std::chrono::seconds(30));
      if (!line.empty()) p.http = std::atoi(line.c_str() + line.rfind(':') + 1);
      return p;
    }

    void Build() {
      repo_dir = dir / "repo";
      catalog = dir / "catalog.jsonl";
      repo = std::make_unique<Repository>(NewLocalStore(repo_dir));
      PhotoEmbedderOptions options;
      options.embedder.threads = 2;
      options.batching.max_batch = 8;
      auto loaded = PhotoEmbedder::Load(testing::DefaultModel(), options);
      ASSERT_TRUE(loaded.ok()) << loaded.status();
      embedder = std::move(*loaded);
      model = embedder->manifest().id;

      // Distinct photos: no two files alike, no two vectors nearly alike, so
      // that "found at rank 1" means this listing and no other.
      int64_t ignored = 0;
      auto listed = ListPhotos(photos_root, &ignored);
      ASSERT_TRUE(listed.ok()) << listed.status();
      std::set<std::string> digests;
      for (size_t i = 0; i < listed->size() && photos.size() < 520; i += 4) {
        const std::string path = photos_root + "/" + (*listed)[i];
        auto bytes = ReadFile(path, 64 << 20);
        ASSERT_TRUE(bytes.ok());
        if (!digests.insert(Sha256Hex(*bytes)).second) continue;
        auto vector = embedder->EmbedPhoto(*bytes, nullptr);
        ASSERT_TRUE(vector.ok()) << path << ": " << vector.status();
        bool alike = false;
        for (const Photo& p : photos) {
          double dot = 0;
          for (int d = 0; d < kDim; ++d) dot += p.vector[d] * (*vector)[d];
          alike |= dot > 0.98;
        }
        if (!alike) photos.push_back({path, std::move(*vector)});
      }
      ASSERT_GE(photos.size(), 500u);

      // February 2026: day 10 complete (30 listings at 05:xx), day 11 only its
      // hour 05 (30 listings): queries read the day 10 and the hour.
      for (int i = 0; i < 30; ++i) {
        const std::string id = absl::StrCat("d-", i);
        items[id] = NextPhoto();
        AddCatalogRow(id, items[id], absl::StrFormat("2026-02-10T05:%02d:00Z", i));
      }
      for (int i = 0; i < 30; ++i) {
        const std::string id = absl::StrCat("h-", i);
        items[id] = NextPhoto();
        AddCatalogRow(id, items[id], absl::StrFormat("2026-02-11T05:%02d:00Z", i));
      }
      Day("2026-02-10");
      Pipeline("hour/2026-02-11T05");

      redis_dir = dir / "redis";
      redis = testing::StartRedis(redis_dir, &redis_port);
      ASSERT_GT(redis_port, 0) << "redis-server did not start (scripts/setup installs it)";
      etcd_dir = dir / "etcd";
      etcd = testing::StartEtcd(etcd_dir, &etcd_port);
      ASSERT_GT(etcd_port, 0) << "etcd did not start";
      servers["hours"] = StartIndexServer({"--select", "hour/*"});
      servers["days"] = StartIndexServer({"--select", "day/*", "--select", "month/*"});
      for (auto& [name, s] : servers) ASSERT_FALSE(s.grpc.empty()) << name << " did not start";
      gateway.args = {testing::PhotosearchBin(), "gateway", "--etcd", Etcd(), "--port", "0",
                      "--detector", "none", "--deadline-ms", "3000", "--health-ms", "300",
                      "--max-batch", "4"};
      gateway.child = std::make_unique<testing::ChildProcess>(gateway.args);
      std::string line = gateway.child->WaitForLine("listening on http://", std::chrono::seconds(180));
      ASSERT_FALSE(line.empty()) << "the gateway did not start";
      gateway.http = std::atoi(line.c_str() + line.rfind(':') + 1);
      serve.child = testing::StartServe(
          {"--repo", repo_dir, "--poll-seconds", "1", "--detector", "none", "--max-batch", "1"},
          &serve.http);
      ASSERT_GT(serve.http, 0) << "serve did not start";
      ingests["c1"] = StartIngest("c1");
      ASSERT_GT(ingests["c1"].http, 0) << "the ingest did not start";
      ok = true;
    }
  };

  static void SetUpTestSuite() {
    env_ = new Env;
    env_->Build();
  }
  static void TearDownTestSuite() {
    delete env_;
    env_ = nullptr;
  }
  void SetUp() override { ASSERT_TRUE(env_ && env_->ok) << "the cluster did not start"; }

  static std::unique_ptr<RedisClient> Redis() {
    auto address = ParseRedisUrl(env_->Redis());
    auto client = RedisClient::Connect(*address, 2000);
    EXPECT_TRUE(client.ok()) << client.status();
    return client.ok() ? std::move(*client) : nullptr;
  }

  // XADD listings * op put ... ; returns the entry id.
  static std::string Put(RedisClient& redis, const std::string& item, const std::string& listed_at,
                         const Photo* photo = nullptr) {
    if (!photo) photo = env_->items.at(item);
    auto id = redis.Command({"XADD", "listings", "*", "op", "put", "item_id", item, "image_url",
                             "file://" + photo->path, "listed_at", listed_at});
    EXPECT_TRUE(id.ok()) << id.status();
    return id.ok() ? id->str : "";
  }

  static void Delete(RedisClient& redis, const std::string& item) {
    auto id = redis.Command({"XADD", "listings", "*", "op", "delete", "item_id", item});
    EXPECT_TRUE(id.ok()) << id.status();
  }

  // A new item with its own photo.
  static std::string NewItem(const std::string& id) {
    env_->items[id] = env_->NextPhoto();
    return id;
  }

  struct Answer {
    int status = 0;
    std::vector<std::string> ids;  // ranked
    std::vector<std::string> shards;
    bool partial = false;
  };
  // The gateway's answer to the item's own vector.
  static Answer Search(const std::string& item, int k = 10, int port = 0) {
    const Photo* photo = env_->items.at(item);
    testing::HttpReply reply = testing::HttpClient(port > 0 ? port : env_->gateway.http)
                                   .Post(absl::StrCat("/v1/search?k=", k),
                                         json{{"vector", photo->vector}, {"model", env_->model}}.dump(),
                                         "application/json");
    Answer a;
    a.status = reply.status;
    if (reply.status != 200) return a;
    json j = json::parse(reply.body);
    for (const json& r : j["results"]) {
      a.ids.push_back(r["item_id"].get<std::string>());
      a.shards.push_back(r["shard"].get<std::string>());
    }
    a.partial = j["partial"].get<bool>();
    return a;
  }
  static bool FoundFirst(const std::string& item) {
    Answer a = Search(item);
    return !a.ids.empty() && a.ids[0] == item;
  }
  static bool Returned(const std::string& item, int k) {
    Answer a = Search(item, k);
    return std::find(a.ids.begin(), a.ids.end(), item) != a.ids.end();
  }
  static bool NoDuplicates(const Answer& a) {
    return std::set<std::string>(a.ids.begin(), a.ids.end()).size() == a.ids.size();
  }

  static json Live(const std::string& consumer = "c1") {
    testing::HttpReply reply = testing::HttpClient(env_->ingests[consumer].http).Get("/v1/live");
    return reply.status == 200 ? json::parse(reply.body) : json();
  }
  // A counter of an ingest's /metrics (0 if absent).
  static double Metric(const std::string& consumer, const std::string& name) {
    testing::HttpReply reply = testing::HttpClient(env_->ingests[consumer].http).Get("/metrics");
    std::smatch m;
    const std::regex line("\n" + name + " ([0-9.e+]+)");
    return std::regex_search(reply.body, m, line) ? std::stod(m[1]) : 0;
  }

  static Env* env_;
};

IngestTest::Env* IngestTest::env_ = nullptr;

TEST_F(IngestTest, Freshness) {
  auto redis = Redis();
  ASSERT_TRUE(redis);
  // The gateway must know the live shard before the clock starts.
  ASSERT_TRUE(WaitFor(
      [] {
        testing::HttpReply r = testing::HttpClient(env_->gateway.http).Get("/v1/shards");
        return r.body.find("live/c1/part-0-of-1") != std::string::npos;
      },
      20));
  std::vector<std::string> ids;
  for (int i = 0; i < 200; ++i) ids.push_back(NewItem(absl::StrCat("f-", i)));
  std::vector<Clock::time_point> sent(ids.size());
  std::vector<double> delay(ids.size(), -1);
  std::atomic<size_t> published{0};
  std::thread producer([&] {
    const auto start = Clock::now();
    for (size_t i = 0; i < ids.size(); ++i) {
      std::this_thread::sleep_until(start + std::chrono::milliseconds(50 * i));  // 20 per second
      sent[i] = Clock::now();
      Put(*redis, ids[i], absl::StrFormat("2026-02-12T05:%02d:%02dZ", i / 60, i % 60));
      published.store(i + 1);
    }
  });
  // One checker: polls every listing published and not found yet.
  const auto deadline = Clock::now() + std::chrono::seconds(60);
  size_t found = 0;
  while (found < ids.size() && Clock::now() < deadline) {
    const size_t upto = published.load();
    for (size_t i = 0; i < upto; ++i) {
      if (delay[i] >= 0) continue;
      if (FoundFirst(ids[i])) {
        delay[i] = Seconds(sent[i]);
        ++found;
      }
    }
  }
  producer.join();
  ASSERT_EQ(found, ids.size()) << "listings never found at rank 1 through the gateway";
  const double p50 = Percentile(delay, 0.5), p99 = Percentile(delay, 0.99);
  std::printf("freshness over 200 events at 20/s: p50 %.3f s, p99 %.3f s, max %.3f s\n", p50, p99,
              Percentile(delay, 1.0));
  EXPECT_LE(p99, 2.0);
  EXPECT_EQ(Live()["items"], 200);
  // Every answer names the live shard for them, once.
  Answer a = Search(ids[7], 50);
  EXPECT_TRUE(NoDuplicates(a));
  EXPECT_EQ(a.shards[0], "live/c1/part-0-of-1@v1");
}

TEST_F(IngestTest, Handover) {
  // The catalog now has the 200 listings (written after their events); the
  // hour is built while a client queries without pause.
  for (int i = 0; i < 200; ++i) {
    const std::string id = absl::StrCat("f-", i);
    env_->AddCatalogRow(id, env_->items[id],
                        absl::StrFormat("2026-02-12T05:%02d:%02dZ", i / 60, i % 60));
  }
  std::atomic<bool> stop{false};
  std::atomic<int> queries{0}, misses{0}, duplicates{0};
  std::set<std::string> shards_seen;
  std::mutex mu;
  std::thread client([&] {
    for (int i = 0; !stop.load(); i = (i + 7) % 200) {
      const std::string id = absl::StrCat("f-", i);
      Answer a = Search(id);
      ++queries;
      if (a.ids.empty() || a.ids[0] != id) ++misses;
      if (!NoDuplicates(a)) ++duplicates;
      if (!a.shards.empty()) {
        std::lock_guard<std::mutex> lock(mu);
        shards_seen.insert(a.shards[0].substr(0, a.shards[0].find('@')));
      }
    }
  });
  PipelineRun run = env_->Pipeline("hour/2026-02-12T05");
  EXPECT_EQ(run.embedded, 200);
  EXPECT_GT(std::stoll(run.inputs["catalog_read_at_ms"]), 0);
  // The hours server loads it, registers it; the ingest hands the hour over.
  const bool handed = WaitFor([] { return Live()["hours"].count("2026-02-12T05") == 0; }, 30);
  std::this_thread::sleep_for(std::chrono::seconds(2));  // and queries go on after
  stop = true;
  client.join();
  EXPECT_TRUE(handed) << Live().dump();
  EXPECT_EQ(Live()["items"], 0);
  EXPECT_EQ(misses.load(), 0) << "of " << queries.load() << " queries during the handover";
  EXPECT_EQ(duplicates.load(), 0);
  EXPECT_GT(queries.load(), 50);
  EXPECT_TRUE(shards_seen.count("live/c1/part-0-of-1")) << "no query ran before the handover";
  EXPECT_TRUE(shards_seen.count("hour/2026-02-12T05/part-0-of-1"));
  EXPECT_EQ(Search("f-3").shards[0].substr(0, 30), "hour/2026-02-12T05/part-0-of-1");
  // The log holds nothing of that hour any more.
  for (const auto& entry : fs::directory_iterator(env_->dir / "wal-c1")) {
    EXPECT_EQ(entry.path().filename().string().find("2026-02-12T05"), std::string::npos);
  }
}

TEST_F(IngestTest, BadEvents) {
  auto redis = Redis();
  ASSERT_TRUE(redis);
  // Photos that cannot be used, over HTTP: text served as a JPEG, a 404.
  httplib::Server photos;
  photos.Get("/text.jpg", [](const httplib::Request&, httplib::Response& res) {
    res.set_content("this is text, not a photo", "image/jpeg");
  });
  const int photo_port = photos.bind_to_any_port("127.0.0.1");
  std::thread serving([&] { photos.listen_after_bind(); });
  struct Stopper {
    httplib::Server& server;
    std::thread& thread;
    ~Stopper() {
      server.stop();
      thread.join();
    }
  } stopper{photos, serving};
  const std::string http = absl::StrCat("http://127.0.0.1:", photo_port);
  const std::string outside = env_->dir / "elsewhere.jpg";
  struct Bad {
    std::vector<std::string> fields;
    std::string reason;
  };
  const std::string long_id(5000, 'x');
  std::vector<Bad> bad = {
      {{"op", "put", "image_url", "file:///x.jpg", "listed_at", "2026-03-05T00:00:00Z"},
       "missing field 'item_id'"},
      {{"op", "put", "item_id", "b-1", "listed_at", "2026-03-05T00:00:00Z"},
       "missing field 'image_url'"},
      {{"op", "put", "item_id", "b-2", "image_url", "file:///x.jpg", "listed_at", "tomorrow"},
       "not an RFC 3339 time"},
      {{"op", "put", "item_id", long_id, "image_url", "file:///x.jpg", "listed_at",
        "2026-03-05T00:00:00Z"},
       "item_id is 5000 bytes"},
      {{"op", "put", "item_id", "b-3", "image_url", "file://" + env_->photos_root + "/nope.jpg",
        "listed_at", "2026-03-05T00:00:00Z"},
       "nope.jpg"},
      {{"op", "put", "item_id", "b-4", "image_url", "http://127.0.0.1:1/x.jpg", "listed_at",
        "2026-03-05T00:00:00Z"},
       "127.0.0.1:1"},
      {{"op", "put", "item_id", "b-5", "image_url", http + "/missing.jpg", "listed_at",
        "2026-03-05T00:00:00Z"},
       "404"},
      {{"op", "put", "item_id", "b-6", "image_url", http + "/text.jpg", "listed_at",
        "2026-03-05T00:00:00Z"},
       "photo " + http + "/text.jpg"},
      {{"op", "put", "item_id", "b-8", "image_url", "file://" + outside, "listed_at",
        "2026-03-05T00:00:00Z"},
       "outside the allowed folder"},
      {{"op", "erase", "item_id", "b-7"}, "neither put nor delete"},
  };
  std::vector<std::string> good;
  std::map<std::string, std::string> reason_of;  // entry id -> expected reason
  for (size_t i = 0; i < bad.size(); ++i) {
    std::vector<std::string> args = {"XADD", "listings", "*"};
    args.insert(args.end(), bad[i].fields.begin(), bad[i].fields.end());
    auto id = redis->Command(args);
    ASSERT_TRUE(id.ok()) << id.status();
    reason_of[id->str] = bad[i].reason;
    const std::string item = NewItem(absl::StrCat("g-", i));  // a good one after each bad one
    Put(*redis, item, "2026-03-05T01:00:00Z");
    good.push_back(item);
  }
  // A pending entry whose body was trimmed away: a consumer that took it and
  // died, then MAXLEN trimmed the stream. The ingest claims it after idling.
  ASSERT_TRUE(WaitFor([&] { return FoundFirst(good.back()); }, 30));
  // Stopped, and past its XREADGROUP's BLOCK (a blocked read would take
  // the entry even now), the ingest leaves it to the dying consumer.
  ::kill(env_->ingests["c1"].child->pid(), SIGSTOP);
  std::this_thread::sleep_for(std::chrono::milliseconds(600));
  auto ghost = redis->Command({"XADD", "listings", "*", "op", "put", "item_id", "ghost",
                               "image_url", "file:///x.jpg", "listed_at", "2026-03-05T00:00:00Z"});
  auto taken = redis->Command({"XREADGROUP", "GROUP", "photosearch", "ghost", "COUNT", "10",
                               "STREAMS", "listings", ">"});
  ASSERT_TRUE(ghost.ok() && taken.ok());
  const size_t dash = ghost->str.find('-');
  auto trimmed = redis->Command(
      {"XTRIM", "listings", "MINID", "=",
       absl::StrCat(ghost->str.substr(0, dash), "-", std::stoll(ghost->str.substr(dash + 1)) + 1)});
  ::kill(env_->ingests["c1"].child->pid(), SIGCONT);
  ASSERT_TRUE(trimmed.ok()) << trimmed.status();
  ASSERT_TRUE(taken->is_array() && !taken->elements.empty()) << "the ghost consumer got nothing";
  reason_of[ghost->str] = "trimmed";
  // Every bad event reaches the dead-letter stream with its reason.
  std::map<std::string, std::string> dead;
  ASSERT_TRUE(WaitFor(
      [&] {
        auto range = redis->Command({"XRANGE", "listings:dead", "-", "+"});
        if (!range.ok()) return false;
        for (const RedisReply& e : range->elements) {
          std::string event, reason;
          for (size_t f = 0; f + 1 < e.elements[1].elements.size(); f += 2) {
            if (e.elements[1].elements[f].str == "dead_event_id") event = e.elements[1].elements[f + 1].str;
            if (e.elements[1].elements[f].str == "dead_reason") reason = e.elements[1].elements[f + 1].str;
          }
          dead[event] = reason;
        }
        return std::all_of(reason_of.begin(), reason_of.end(),
                           [&](const auto& r) { return dead.count(r.first) > 0; });
      },
      30))
      << dead.size() << " dead letters";
  for (const auto& [id, reason] : reason_of) {
    EXPECT_THAT(dead[id], ::testing::HasSubstr(reason)) << id;
  }
  // Nothing good was lost, and nothing bad stays pending.
  for (const std::string& item : good) EXPECT_TRUE(FoundFirst(item)) << item;
  auto pending = redis->Command({"XPENDING", "listings", "photosearch"});
  ASSERT_TRUE(pending.ok());
  EXPECT_EQ(pending->elements[0].integer, 0) << "entries left pending";
  EXPECT_GE(Metric("c1", "photosearch_ingest_dead_letters_total"), static_cast<double>(reason_of.size()));
}

TEST_F(IngestTest, Deletes) {
  auto redis = Redis();
  ASSERT_TRUE(redis);
  // 16 live listings of 2026-02-13T05, in the catalog as well.
  std::vector<std::string> live;
  for (int i = 0; i < 16; ++i) {
    live.push_back(NewItem(absl::StrCat("l-", i)));
    Put(*redis, live.back(), absl::StrFormat("2026-02-13T05:%02d:00Z", i));
  }
  ASSERT_TRUE(WaitFor([&] { return FoundFirst(live.back()); }, 20));
  std::vector<std::string> deleted = live;
  for (int i = 0; i < 17; ++i) deleted.push_back(absl::StrCat("d-", i));  // in day/2026-02-10
  for (int i = 0; i < 17; ++i) deleted.push_back(absl::StrCat("h-", i));  // in hour/2026-02-11T05
  ASSERT_EQ(deleted.size(), 50u);
  for (const std::string& id : deleted) ASSERT_TRUE(FoundFirst(id)) << id << " before its delete";
  const auto start = Clock::now();
  for (const std::string& id : deleted) Delete(*redis, id);
  // Within 2 s none is returned, searched by its own vector, k = 50.
  std::set<std::string> still(deleted.begin(), deleted.end());
  while (!still.empty() && Seconds(start) < 10) {
    for (auto it = still.begin(); it != still.end();) {
      it = Returned(*it, 50) ? std::next(it) : still.erase(it);
    }
  }
  const double gone_after = Seconds(start);
  std::printf("50 deletes over day, hour and live shards gone after %.2f s\n", gone_after);
  EXPECT_TRUE(still.empty()) << still.size() << " deleted items still returned";
  EXPECT_LE(gone_after, 2.0);
  // `serve` over the same repository hides the batch shards' deleted items
  // as fast (the live ones it never had).
  auto in_serve = [](const std::string& id) {
    Answer a = Search(id, 50, env_->serve.http);
    return std::find(a.ids.begin(), a.ids.end(), id) != a.ids.end();
  };
  EXPECT_TRUE(WaitFor(
      [&] {
        return std::none_of(deleted.begin() + 16, deleted.end(), in_serve);
      },
      2))
      << "serve still returns deleted items";
  EXPECT_TRUE(in_serve("d-20"));
  // k results still come back, and the others are still found.
  EXPECT_EQ(Search("d-20", 50).ids.size(), 50u);
  EXPECT_TRUE(FoundFirst("d-20"));
  EXPECT_TRUE(FoundFirst("h-20"));

  // Order-free and idempotent: a delete older than a listing does not hide
  // it, the same delete twice changes nothing, and an item listed again
  // after its delete is searchable again.
  const std::string again = NewItem("re-1");
  Put(*redis, again, "2026-03-10T05:00:00Z");  // March: never built here
  ASSERT_TRUE(WaitFor([&] { return FoundFirst(again); }, 10));
  auto dated_delete = [&](const std::string& at) {
    ASSERT_TRUE(redis->Command({"XADD", "listings", "*", "op", "delete", "item_id", again,
                                "deleted_at", at})
                    .ok());
  };
  dated_delete("2026-03-10T06:00:00Z");
  dated_delete("2026-03-10T06:00:00Z");
  EXPECT_TRUE(WaitFor([&] { return !Returned(again, 50); }, 2));
  Put(*redis, again, "2026-03-10T07:00:00Z");  // listed again, the same photo
  EXPECT_TRUE(WaitFor([&] { return FoundFirst(again); }, 10)) << "a relisted item stays hidden";
  dated_delete("2026-03-10T06:30:00Z");  // older than the new listing
  std::this_thread::sleep_for(std::chrono::seconds(2));
  EXPECT_TRUE(FoundFirst(again)) << "an older delete hid a newer listing";

  // Batch builds after the deletes leave them out and count them.
  for (int i = 0; i < 16; ++i) {
    env_->AddCatalogRow(live[i], env_->items[live[i]],
                        absl::StrFormat("2026-02-13T05:%02d:00Z", i));
  }
  PipelineRun hour = env_->Pipeline("hour/2026-02-13T05");  // the next hour
  EXPECT_EQ(hour.tombstoned, 16);
  EXPECT_EQ(hour.embedded, 0);
  for (int h = 0; h < 24; ++h) {
    if (h != 5) env_->Pipeline(absl::StrFormat("hour/2026-02-11T%02d", h));
  }
  PipelineRun day = env_->Pipeline("day/2026-02-11");  // from the hour's features of before
  EXPECT_EQ(day.tombstoned, 17);
  for (int d = 1; d <= 28; ++d) {
    if (d == 10 || d == 11) continue;
    const std::string date = absl::StrFormat("2026-02-%02d", d);
    for (int h = 0; h < 24; ++h) {
      if (d == 12 && h == 5) continue;  // built by Handover
      if (d == 13 && h == 5) continue;
      env_->Pipeline(absl::StrFormat("hour/%sT%02d", date, h));
    }
    env_->Pipeline("day/" + date);
  }
  // A delete that arrives while the month rolls up is honoured by its result.
  ::setenv("PHOTOSEARCH_TEST_STALL_BUILD_MS", "4000", 1);
  std::thread late([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(1500));
    auto r = Redis();
    Delete(*r, "d-29");
  });
  PipelineRun month = env_->Pipeline("month/2026-02");
  late.join();
  ::unsetenv("PHOTOSEARCH_TEST_STALL_BUILD_MS");
  deleted.push_back("d-29");
  EXPECT_EQ(month.tombstoned, 35);  // 18 of day 10, 17 of day 11 (features keep what was embedded)
  std::string build_note;
  for (const PipelineStepRecord& step : month.steps) {
    if (step.uses == "build") build_note = step.note;
  }
  EXPECT_THAT(build_note, ::testing::HasSubstr("built again: 1 deleted while it was building"));
  auto record = ReadRunRecord(env_->repo->store(), month.run_id);
  ASSERT_TRUE(record.ok());
  EXPECT_EQ(record->tombstoned, 35);
  // The month's own files hold none of them.
  auto versions = env_->repo->ListVersions(ArtifactKey{"shard", env_->model, "month/2026-02", 0, 1});
  ASSERT_TRUE(versions.ok() && !versions->empty());
  auto manifest = env_->repo->ReadManifest(ArtifactKey{"shard", env_->model, "month/2026-02", 0, 1},
                                           versions->back());
  auto ids = DecodeIds(*ReadFile(env_->repo_dir + "/" +
                                 ArtifactKey{"shard", env_->model, "month/2026-02", 0, 1}.Prefix() +
                                 std::to_string(manifest->version) + "/ids.bin"));
  ASSERT_TRUE(ids.ok());
  std::set<std::string> in_month(ids->begin(), ids->end());
  for (const std::string& id : deleted) EXPECT_FALSE(in_month.count(id)) << id << " in the month";
  EXPECT_TRUE(in_month.count("d-20"));
  // Once the month is what queries read, still never returned.
  ASSERT_TRUE(WaitFor([] { return Search("d-20").shards[0].rfind("month/2026-02", 0) == 0; }, 30))
      << Search("d-20").shards[0];
  for (const std::string& id : deleted) EXPECT_FALSE(Returned(id, 50)) << id;
}

TEST_F(IngestTest, Crash) {
  auto redis = Redis();
  ASSERT_TRUE(redis);
  std::vector<std::string> burst;
  for (int i = 0; i < 60; ++i) burst.push_back(NewItem(absl::StrCat("k-", i)));
  std::thread producer([&] {
    auto r = Redis();
    for (int i = 0; i < 60; ++i) {
      Put(*r, burst[i], absl::StrFormat("2026-03-01T05:%02d:00Z", i));
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(600));
  Process& c1 = env_->ingests["c1"];
  ASSERT_EQ(c1.child->Stop(SIGKILL, std::chrono::seconds(10)), SIGKILL);
  producer.join();
  c1 = env_->StartIngest("c1");
  ASSERT_GT(c1.http, 0);
  const double replayed = Metric("c1", "photosearch_ingest_replayed_total");
  for (const std::string& id : burst) EXPECT_TRUE(WaitFor([&] { return FoundFirst(id); }, 30)) << id;
  // Exactly once: the log's listings were not embedded again, and the live
  // shard holds each once.
  const double embedded = Metric("c1", "photosearch_ingest_embedded_total");
  std::printf("after kill -9 mid-burst: %.0f listings replayed from the log, %.0f embedded\n",
              replayed, embedded);
  EXPECT_GT(replayed, 0) << "the kill came before anything was logged";
  // Each listing held was restored from the log or embedded by the new
  // process, never both.
  EXPECT_EQ(replayed + embedded, Live()["items"].get<double>());
  const json live = Live();
  EXPECT_EQ(live["hours"].value("2026-03-01T05", 0), 60) << live.dump();
  for (const std::string& id : {burst[0], burst[30], burst[59]}) EXPECT_TRUE(NoDuplicates(Search(id, 50)));
}

TEST_F(IngestTest, TwoConsumers) {
  auto redis = Redis();
  ASSERT_TRUE(redis);
  env_->ingests["c2"] = env_->StartIngest("c2");
  ASSERT_GT(env_->ingests["c2"].http, 0);
  // A consumer that took entries and died before acking them: claimed.
  std::vector<std::string> orphans;
  ::kill(env_->ingests["c1"].child->pid(), SIGSTOP);
  ::kill(env_->ingests["c2"].child->pid(), SIGSTOP);
  std::this_thread::sleep_for(std::chrono::milliseconds(600));  // their blocked reads time out
  for (int i = 0; i < 5; ++i) {
    orphans.push_back(NewItem(absl::StrCat("o-", i)));
    Put(*redis, orphans.back(), "2026-03-02T04:00:00Z");
  }
  ASSERT_TRUE(redis->Command({"XREADGROUP", "GROUP", "photosearch", "dead-one", "COUNT", "5",
                              "STREAMS", "listings", ">"})
                  .ok());
  ::kill(env_->ingests["c1"].child->pid(), SIGCONT);
  ::kill(env_->ingests["c2"].child->pid(), SIGCONT);
  for (const std::string& id : orphans) EXPECT_TRUE(WaitFor([&] { return FoundFirst(id); }, 30)) << id;

  // Kill a real consumer with entries in flight: as soon as it holds some.
  std::vector<std::string> burst;
  std::map<std::string, std::string> item_of;  // entry id -> item
  for (int i = 0; i < 64; ++i) {
    burst.push_back(NewItem(absl::StrCat("t-", i)));
    item_of[Put(*redis, burst.back(), absl::StrFormat("2026-03-02T05:%02d:00Z", i % 60))] =
        burst.back();
  }
  std::set<std::string> pending_items;
  WaitFor(
      [&] {
        auto p = redis->Command({"XPENDING", "listings", "photosearch", "-", "+", "1000", "c1"});
        if (!p.ok() || p->elements.empty()) return false;
        ::kill(env_->ingests["c1"].child->pid(), SIGKILL);
        // What it held at the kill (re-read: it may have acked some meanwhile).
        auto held = redis->Command({"XPENDING", "listings", "photosearch", "-", "+", "1000", "c1"});
        for (const RedisReply& e : held->elements) pending_items.insert(item_of[e.elements[0].str]);
        return true;
      },
      10);
  ASSERT_EQ(env_->ingests["c1"].child->Stop(SIGKILL, std::chrono::seconds(10)), SIGKILL);
  std::printf("consumer c1 killed with %zu entries pending\n", pending_items.size());
  ASSERT_FALSE(pending_items.empty());
  // c2 claims what c1 left pending: those listings become searchable through
  // c2 while c1 is down.
  ASSERT_TRUE(WaitFor(
      [&] {
        auto left = redis->Command({"XPENDING", "listings", "photosearch", "-", "+", "1000", "c1"});
        return left.ok() && left->elements.empty();
      },
      30))
      << "c1's pending entries were not claimed";
  for (const std::string& id : pending_items) {
    EXPECT_TRUE(WaitFor(
        [&] {
          Answer a = Search(id);
          return !a.ids.empty() && a.ids[0] == id && a.shards[0].rfind("live/c2", 0) == 0;
        },
        15))
        << id << " was pending at c1";
  }
  // c1 back: everything searchable, each once.
  env_->ingests["c1"] = env_->StartIngest("c1");
  ASSERT_GT(env_->ingests["c1"].http, 0);
  for (const std::string& id : burst) {
    EXPECT_TRUE(WaitFor([&] { return FoundFirst(id); }, 30)) << id;
    EXPECT_TRUE(NoDuplicates(Search(id, 20))) << id;
  }
}

TEST_F(IngestTest, RedisDown) {
  const std::string item = NewItem("r-0");
  {
    auto redis = Redis();
    ASSERT_TRUE(redis);
    Put(*redis, item, "2026-03-03T05:00:00Z");
  }
  ASSERT_TRUE(WaitFor([&] { return FoundFirst(item); }, 20));
  const double before = Metric("c1", "photosearch_ingest_embedded_total") +
                        Metric("c2", "photosearch_ingest_embedded_total");
  ASSERT_GE(env_->redis->Stop(SIGTERM, std::chrono::seconds(10)), 0);
  // The live shards keep serving without Redis.
  std::this_thread::sleep_for(std::chrono::seconds(2));
  EXPECT_TRUE(FoundFirst(item));
  EXPECT_EQ(testing::HttpClient(env_->ingests["c1"].http).Get("/readyz").status, 503);
  int port = -1;
  env_->redis = testing::StartRedis(env_->redis_dir, &port, env_->redis_port);
  ASSERT_EQ(port, env_->redis_port);
  // Consuming resumes where it stopped: new events only are embedded.
  auto redis = Redis();
  ASSERT_TRUE(redis);
  std::vector<std::string> after;
  for (int i = 1; i <= 5; ++i) {
    after.push_back(NewItem(absl::StrCat("r-", i)));
    Put(*redis, after.back(), "2026-03-03T05:10:00Z");
  }
  for (const std::string& id : after) EXPECT_TRUE(WaitFor([&] { return FoundFirst(id); }, 30)) << id;
  const double embedded = Metric("c1", "photosearch_ingest_embedded_total") +
                          Metric("c2", "photosearch_ingest_embedded_total");
  EXPECT_EQ(embedded - before, 5);
  EXPECT_TRUE(WaitFor([] { return testing::HttpClient(env_->ingests["c1"].http).Get("/readyz").status == 200; }, 15));
}

TEST_F(IngestTest, EtcdRestart) {
  const std::string item = "r-1";  // live in c1 or c2
  ASSERT_TRUE(FoundFirst(item));
  ASSERT_GE(env_->etcd->Stop(SIGTERM, std::chrono::seconds(10)), 0);
  std::this_thread::sleep_for(std::chrono::seconds(1));
  EXPECT_TRUE(FoundFirst(item)) << "the gateway keeps its last view while etcd is down";
  int port = -1;
  env_->etcd = testing::StartEtcd(env_->etcd_dir, &port, env_->etcd_port);
  ASSERT_EQ(port, env_->etcd_port);
  // The registrations are in etcd again (leases reset by the restart, or
  // granted anew), the gateway's view is fresh, and a gateway started now
  // discovers the live tier from etcd alone.
  auto live_windows = [](int port) {
    std::set<std::string> live;
    testing::HttpReply r = testing::HttpClient(port).Get("/v1/shards");
    if (r.status != 200) return live;
    const json body = json::parse(r.body);
    for (const json& s : body["shards"]) {
      if (s["state"] == "serving" && s["window"].get<std::string>().rfind("live/", 0) == 0) {
        live.insert(s["window"].get<std::string>());
      }
    }
    return live;
  };
  const std::set<std::string> both = {"live/c1", "live/c2"};
  std::string ready;
  EXPECT_TRUE(WaitFor(
      [&] {
        ready = testing::HttpClient(env_->gateway.http).Get("/readyz").body;
        return live_windows(env_->gateway.http) == both && ready.find("stale") == std::string::npos;
      },
      40))
      << ready << "; live: " << ::testing::PrintToString(live_windows(env_->gateway.http));
  Process fresh;
  fresh.child = std::make_unique<testing::ChildProcess>(std::vector<std::string>{
      testing::PhotosearchBin(), "gateway", "--etcd", env_->Etcd(), "--port", "0", "--detector",
      "none", "--max-batch", "1"});
  std::string line = fresh.child->WaitForLine("listening on http://", std::chrono::seconds(180));
  ASSERT_FALSE(line.empty());
  fresh.http = std::atoi(line.c_str() + line.rfind(':') + 1);
  EXPECT_TRUE(WaitFor([&] { return live_windows(fresh.http) == both; }, 20))
      << ::testing::PrintToString(live_windows(fresh.http));
  EXPECT_TRUE(WaitFor(
      [&] {
        Answer a = Search(item, 10, fresh.http);
        return !a.ids.empty() && a.ids[0] == item;
      },
      10));
}

}  // namespace
}  // namespace photosearch
