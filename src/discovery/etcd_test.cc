// EtcdClient, EtcdDirectory and EtcdRegistrar against a real etcd (Debian's
// 3.4, started on loopback by the test), and EtcdClient against a fake
// gateway that answers garbage.
#include <httplib.h>
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "discovery/etcd_client.h"
#include "discovery/etcd_directory.h"
#include "discovery/etcd_registrar.h"
#include "discovery/registration.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "support/etcd_server.h"
#include "support/http_client.h"
#include "support/test_env.h"

namespace photosearch {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr char kModel[] = "m@1";

int64_t MsSince(Clock::time_point t) {
  return std::chrono::duration_cast<milliseconds>(Clock::now() - t).count();
}

// Polls `done` every 5 ms for up to `timeout`; the milliseconds it took, or
// nullopt if it never became true.
template <typename Done>
std::optional<int64_t> WaitUntil(Done done, milliseconds timeout) {
  const Clock::time_point start = Clock::now();
  while (true) {
    if (done()) return MsSince(start);
    if (Clock::now() - start > timeout) return std::nullopt;
    std::this_thread::sleep_for(milliseconds(5));
  }
}

Registration Reg(int port, const std::string& window = "all", int partition = 0,
                 int partitions = 1) {
  Registration r;
  r.address = "127.0.0.1:" + std::to_string(port);
  r.model = kModel;
  r.window = window;
  r.partition = partition;
  r.partitions = partitions;
  r.version = 17;
  r.items = 1000 + port;
  return r;
}

std::vector<std::string> Keys(const RangeResult& range) {
  std::vector<std::string> keys;
  for (const KeyValue& kv : range.kvs) keys.push_back(kv.key);
  return keys;
}

// ---------------------------------------------------------------------------
// Without etcd.

TEST(EtcdClientTest, PrefixRangeEnd) {
  EXPECT_EQ(PrefixRangeEnd("a"), "b");
  EXPECT_EQ(PrefixRangeEnd("/p/m@1/"), "/p/m@10");
  EXPECT_EQ(PrefixRangeEnd("a\xff"), "b");
  EXPECT_EQ(PrefixRangeEnd("a\xfe\xff\xff"), "a\xff");
  EXPECT_EQ(PrefixRangeEnd("\xff\xff"), std::string(1, '\0'));
  EXPECT_EQ(PrefixRangeEnd(""), std::string(1, '\0'));
}

TEST(EtcdClientTest, RefusesEndpointsThatAreNotHttpHostPort) {
  for (const char* bad : {"", "127.0.0.1:2379", "https://127.0.0.1:2379", "http://127.0.0.1",
                          "http://127.0.0.1:0", "http://127.0.0.1:65536", "http://:2379",
                          "http://127.0.0.1:2379/v3", "http://user@host:2379", "unix:///tmp/s"}) {
    EtcdClient client(bad);
    EXPECT_EQ(client.status().code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_EQ(client.GetPrefix("a").status().code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_EQ(client.Put("a", "b").code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_EQ(client
                  .Watch(
                      "a", 1, [](const WatchBatch&) { return true; }, nullptr, 100)
                  .code(),
              absl::StatusCode::kInvalidArgument)
        << bad;
    EtcdDirectory directory(bad, kDefaultPrefix, kModel);
    EXPECT_EQ(directory.Start().code(), absl::StatusCode::kInvalidArgument) << bad;
    EtcdRegistrar registrar(bad, kDefaultPrefix, 3);
    EXPECT_EQ(registrar.Start().code(), absl::StatusCode::kInvalidArgument) << bad;
  }
  for (const char* good : {"http://127.0.0.1:2379", "http://127.0.0.1:2379/", "http://etcd-0:1",
                           "http://[::1]:2379"}) {
    EXPECT_TRUE(EtcdClient(good).status().ok()) << good;
  }
}

TEST(EtcdClientTest, UnreachableEtcdIsUnavailable) {
  const int port = testing::FreeLoopbackPort();
  EtcdClient client("http://127.0.0.1:" + std::to_string(port), 500);
  const Clock::time_point start = Clock::now();
  EXPECT_EQ(client.GrantLease(5).status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(client.KeepAlive(1).status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(client.Revoke(1).code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(client.Put("a", "b").code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(client.Delete("a").code(), absl::StatusCode::kUnavailable);
  absl::Status status = client.GetPrefix("a").status();
  EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(status.message(), HasSubstr(std::to_string(port)));
  EXPECT_EQ(client
                .Watch(
                    "a", 1, [](const WatchBatch&) { return true; }, nullptr, 1000)
                .code(),
            absl::StatusCode::kUnavailable);
  EXPECT_LT(MsSince(start), 2000);
}

TEST(EtcdDirectoryTest, StartsStaleWhenEtcdIsUnreachableAndStopsPromptly) {
  const int port = testing::FreeLoopbackPort();
  const std::string endpoint = "http://127.0.0.1:" + std::to_string(port);
  auto directory = std::make_unique<EtcdDirectory>(endpoint, kDefaultPrefix, kModel);
  ASSERT_TRUE(directory->Start().ok());
  DirectoryView view = directory->View();
  EXPECT_TRUE(view.stale);
  EXPECT_THAT(view.stale_reason, HasSubstr(endpoint));
  EXPECT_TRUE(view.registrations.empty());
  EXPECT_EQ(directory->Start().code(), absl::StatusCode::kFailedPrecondition);
  std::this_thread::sleep_for(milliseconds(300));  // into a backoff sleep
  const Clock::time_point start = Clock::now();
  directory.reset();
  EXPECT_LT(MsSince(start), 1000);

  EtcdRegistrar registrar(endpoint, kDefaultPrefix, 3);
  EXPECT_EQ(registrar.Start().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(registrar.Set({Reg(7001)}).code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(registrar.Set({Reg(0)}).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(registrar.lease(), 0);
}

// ---------------------------------------------------------------------------
// A fake gateway: each path answers a fixed status and body (chunks), and can
// hold the stream open.

class FakeEtcd {
 public:
  struct Answer {
    int status = 200;
    std::vector<std::string> chunks;
    bool hold = false;  // keep the stream open after the chunks
  };

  FakeEtcd() {
    server_.Post(".*", [this](const httplib::Request& req, httplib::Response& res) {
      Answer answer;
      {
        std::lock_guard<std::mutex> lock(mu_);
        auto it = answers_.find(req.path);
        if (it == answers_.end()) {
          res.status = 404;
          return;
        }
        answer = it->second;
      }
      res.status = answer.status;
      res.set_chunked_content_provider("application/json",
                                       [this, answer](size_t, httplib::DataSink& sink) {
                                         for (const std::string& chunk : answer.chunks) {
                                           if (!sink.write(chunk.data(), chunk.size()))
                                             return false;
                                         }
                                         while (answer.hold && !release_)
                                           std::this_thread::sleep_for(milliseconds(10));
                                         sink.done();
                                         return true;
                                       });
    });
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    while (!server_.is_running()) std::this_thread::sleep_for(milliseconds(1));
  }
  ~FakeEtcd() {
    release_ = true;
    server_.stop();
    thread_.join();
  }

  void Set(const std::string& path, Answer answer) {
    std::lock_guard<std::mutex> lock(mu_);
    answers_[path] = std::move(answer);
  }
  std::string endpoint() const { return "http://127.0.0.1:" + std::to_string(port_); }

 private:
  httplib::Server server_;
  int port_ = 0;
  std::thread thread_;
  std::atomic<bool> release_{false};
  std::mutex mu_;
  std::map<std::string, Answer> answers_;
};

TEST(EtcdClientTest, MalformedAnswersAreErrorsNotCrashes) {
  FakeEtcd fake;
  EtcdClient client(fake.endpoint(), 1000);
  const std::string deep = std::string(100000, '[') + std::string(100000, ']');
  struct RangeCase {
    int status;
    std::string body;
    absl::StatusCode code;
  };
  const std::vector<RangeCase> range_cases = {
      {200, "", absl::StatusCode::kInternal},
      {200, "not json", absl::StatusCode::kInternal},
      {200, "[]", absl::StatusCode::kInternal},
      {200, deep, absl::StatusCode::kInternal},
      {200, R"({"kvs":[]})", absl::StatusCode::kInternal},
      {200, R"({"header":{"revision":"abc"}})", absl::StatusCode::kInternal},
      {200, R"({"header":{"revision":"99999999999999999999999"}})", absl::StatusCode::kInternal},
      {200, R"({"header":{"revision":1e300}})", absl::StatusCode::kInternal},
      {200, R"({"header":{"revision":"-"}})", absl::StatusCode::kInternal},
      {200, R"({"header":{"revision":"0"}})", absl::StatusCode::kInternal},
      {200, R"({"header":{"revision":"5"},"kvs":{"a":1}})", absl::StatusCode::kInternal},
      {200, R"({"header":{"revision":"5"},"kvs":[7]})", absl::StatusCode::kInternal},
      {200, R"({"header":{"revision":"5"},"kvs":[{"key":"!!!"}]})", absl::StatusCode::kInternal},
      {200, R"({"header":{"revision":"5"},"kvs":[{"key":5}]})", absl::StatusCode::kInternal},
      {200, R"({"header":{"revision":"5"},"kvs":[{"key":"YQ==","mod_revision":"1.5"}]})",
       absl::StatusCode::kInternal},
      {200, std::string(65 << 20, ' '), absl::StatusCode::kResourceExhausted},
      {500, "<html>oops</html>", absl::StatusCode::kUnavailable},
      {503, "", absl::StatusCode::kUnavailable},
      {400,
       R"({"error":"x","message":"etcdserver: mvcc: required revision has been compacted","code":11})",
       absl::StatusCode::kOutOfRange},
      {400, R"({"code":99999999999999999999})", absl::StatusCode::kInvalidArgument},
      {404, deep, absl::StatusCode::kNotFound},
      {418, "\xff\xfe", absl::StatusCode::kUnknown},
  };
  for (const RangeCase& c : range_cases) {
    fake.Set("/v3/kv/range", {c.status, {c.body}});
    absl::StatusOr<RangeResult> range = client.GetPrefix("a");
    EXPECT_EQ(range.status().code(), c.code) << c.status << " " << c.body.substr(0, 100);
    EXPECT_LT(range.status().message().size(), 600u);
  }
  fake.Set("/v3/kv/range", {200,
                            {R"({"header":{"revision":"5"},"kvs":[{"key":"YQ==","value":"Yg==",)",
                             R"("mod_revision":"3"},{"key":"YWI=","mod_revision":4}]})"}});
  absl::StatusOr<RangeResult> range = client.GetPrefix("a");
  ASSERT_TRUE(range.ok()) << range.status();
  EXPECT_EQ(range->revision, 5);
  ASSERT_EQ(range->kvs.size(), 2u);
  EXPECT_EQ(range->kvs[0].key, "a");
  EXPECT_EQ(range->kvs[0].value, "b");
  EXPECT_EQ(range->kvs[0].mod_revision, 3);
  EXPECT_EQ(range->kvs[1].key, "ab");
  EXPECT_EQ(range->kvs[1].value, "");

  // Leases.
  fake.Set("/v3/lease/grant", {200, {R"({"ID":"0","TTL":"5"})"}});
  EXPECT_EQ(client.GrantLease(5).status().code(), absl::StatusCode::kInternal);
  fake.Set("/v3/lease/grant", {200, {R"({"error":"too many leases"})"}});
  EXPECT_EQ(client.GrantLease(5).status().code(), absl::StatusCode::kUnavailable);
  fake.Set("/v3/lease/grant", {200, {R"({"ID":"12","TTL":"5"})"}});
  EXPECT_EQ(*client.GrantLease(5), 12);
  EXPECT_EQ(client.GrantLease(0).status().code(), absl::StatusCode::kInvalidArgument);
  const std::vector<std::pair<std::string, absl::StatusCode>> keepalive_cases = {
      {"{\"result\":{\"ID\":\"1\"}}\n", absl::StatusCode::kNotFound},
      {R"({"result":{"ID":"1","TTL":"-1"}})", absl::StatusCode::kNotFound},
      {R"({"result":{"ID":"1","TTL":"0"}})", absl::StatusCode::kNotFound},
      {R"({"result":{"ID":"1","TTL":"x"}})", absl::StatusCode::kInternal},
      {R"({"result":7})", absl::StatusCode::kInternal},
      {R"({"error":{"grpc_code":14,"message":"etcdserver: no leader"}})",
       absl::StatusCode::kUnavailable},
      {R"({"error":"boom"})", absl::StatusCode::kUnavailable},
      {"garbage", absl::StatusCode::kInternal},
      {"", absl::StatusCode::kInternal},
  };
  for (const auto& [body, code] : keepalive_cases) {
    fake.Set("/v3/lease/keepalive", {200, {body}});
    EXPECT_EQ(client.KeepAlive(1).status().code(), code) << body;
  }
  fake.Set("/v3/lease/keepalive", {200, {"{\"result\":{\"ID\":\"1\",\"TTL\":\"5\"}}\n"}});
  EXPECT_EQ(*client.KeepAlive(1), 5);
}

TEST(EtcdClientTest, MalformedWatchStreamsEndTheWatch) {
  FakeEtcd fake;
  EtcdClient client(fake.endpoint(), 1000);
  const std::string created = "{\"result\":{\"header\":{\"revision\":\"9\"},\"created\":true}}\n";
  auto watch = [&](FakeEtcd::Answer answer, std::vector<WatchBatch>* batches = nullptr,
                   int idle_timeout_ms = 2000) {
    fake.Set("/v3/watch", std::move(answer));
    return client.Watch(
        "a", 5,
        [&](const WatchBatch& b) {
          if (batches) batches->push_back(b);
          return true;
        },
        nullptr, idle_timeout_ms);
  };
  struct Case {
    std::vector<std::string> chunks;
    absl::StatusCode code;
    std::string message;
  };
  const std::vector<Case> cases = {
      {{created}, absl::StatusCode::kUnavailable, "ended"},
      {{created, "garbage\n"}, absl::StatusCode::kUnavailable, "malformed"},
      {{created, "{\"result\":{\"events\":[{\"type\":\"BOGUS\",\"kv\":{\"key\":\"YQ==\"}}]}}\n"},
       absl::StatusCode::kUnavailable,
       "BOGUS"},
      {{created, "{\"result\":{\"events\":[{\"kv\":{\"key\":\"%%%\"}}]}}\n"},
       absl::StatusCode::kUnavailable,
       "base64"},
      {{created,
        "{\"result\":{\"events\":[{\"kv\":{\"key\":\"YQ==\",\"mod_revision\":\"1e3\"}}]}}\n"},
       absl::StatusCode::kUnavailable,
       "int64"},
      {{created, "{\"result\":{\"events\":[{}]}}\n"}, absl::StatusCode::kUnavailable, "kv"},
      {{created, "{\"result\":{\"events\":\"x\"}}\n"}, absl::StatusCode::kUnavailable, "events"},
      {{created, std::string(1000, '[') + "\n"}, absl::StatusCode::kUnavailable, "deeper"},
      {{"{\"error\":{\"grpc_code\":14,\"message\":\"no leader\"}}\n"},
       absl::StatusCode::kUnavailable,
       "no leader"},
      {{created, "{\"result\":{\"canceled\":true,\"cancel_reason\":\"permission denied\"}}\n"},
       absl::StatusCode::kUnavailable,
       "permission denied"},
      {{created, "{\"result\":{\"canceled\":true,\"compact_revision\":\"7\"}}\n"},
       absl::StatusCode::kOutOfRange,
       "compact_revision 7"},
      // One message split over chunks, and two in one.
      {{"{\"result\":{\"header\":{\"revision\":\"9\"},",
        "\"canceled\":true,\"compact_revision\":\"8\"}}", "\n"},
       absl::StatusCode::kOutOfRange,
       "compact_revision 8"},
  };
  for (const Case& c : cases) {
    absl::Status status = watch({200, c.chunks});
    EXPECT_EQ(status.code(), c.code) << c.chunks.back().substr(0, 100) << " " << status;
    EXPECT_THAT(status.message(), HasSubstr(c.message)) << c.chunks.back().substr(0, 100);
  }
  absl::Status status = watch({500, {R"({"error":"bad","message":"bad request body","code":2})"}});
  EXPECT_THAT(status.message(), HasSubstr("bad request body"));

  // A message over the limit ends the watch without growing without bound.
  status = watch({200, {created, std::string(65 << 20, 'x')}});
  EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(status.message(), HasSubstr("over"));

  // Good messages, one of them split, delivered in order; a progress
  // notification is a batch without events at the header's revision.
  std::vector<WatchBatch> batches;
  status = watch({200,
                  {created + "{\"result\":{\"header\":{\"revision\":\"20\"},\"events\":[{\"kv\":",
                   "{\"key\":\"YQ==\",\"value\":\"Yg==\",\"mod_revision\":\"10\"}},{\"type\":"
                   "\"DELETE\",\"kv\":{\"key\":\"YQ==\",\"mod_revision\":\"11\"}}]}}\n",
                   "{\"result\":{\"header\":{\"revision\":\"25\"}}}\n"}},
                 &batches);
  EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable);  // then the stream ended
  ASSERT_EQ(batches.size(), 2u);
  ASSERT_EQ(batches[0].events.size(), 2u);
  EXPECT_TRUE(batches[0].events[0].put);
  EXPECT_EQ(batches[0].events[0].key, "a");
  EXPECT_EQ(batches[0].events[0].value, "b");
  EXPECT_EQ(batches[0].events[0].revision, 10);
  EXPECT_FALSE(batches[0].events[1].put);
  EXPECT_EQ(batches[0].events[1].revision, 11);
  EXPECT_EQ(batches[0].revision, 11);  // the last event's, not the header's 20
  EXPECT_TRUE(batches[1].events.empty());
  EXPECT_EQ(batches[1].revision, 25);

  // A stream that stays silent: the idle timeout.
  Clock::time_point start = Clock::now();
  status = watch({200, {created}, /*hold=*/true}, nullptr, 300);
  EXPECT_EQ(status.code(), absl::StatusCode::kDeadlineExceeded) << status;
  EXPECT_GE(MsSince(start), 250);
  EXPECT_LT(MsSince(start), 2000);

  // ... and `stop` ends it at once, however long the idle timeout.
  std::atomic<bool> stop{false};
  std::thread stopper([&] {
    std::this_thread::sleep_for(milliseconds(200));
    stop = true;
  });
  start = Clock::now();
  fake.Set("/v3/watch", {200, {created}, true});
  status = client.Watch(
      "a", 5, [](const WatchBatch&) { return true; }, &stop, 60000);
  stopper.join();
  EXPECT_TRUE(status.ok()) << status;
  EXPECT_LT(MsSince(start), 700);

  // Shutdown() ends a watch and every later call.
  fake.Set("/v3/watch", {200, {created}, true});
  std::thread shutdown([&] {
    std::this_thread::sleep_for(milliseconds(200));
    client.Shutdown();
  });
  start = Clock::now();
  status = client.Watch(
      "a", 5, [](const WatchBatch&) { return true; }, nullptr, 60000);
  shutdown.join();
  EXPECT_EQ(status.code(), absl::StatusCode::kCancelled) << status;
  EXPECT_LT(MsSince(start), 700);
  EXPECT_EQ(client.GetPrefix("a").status().code(), absl::StatusCode::kCancelled);
}

// ---------------------------------------------------------------------------
// Against etcd, one server for the tests that do not stop it.

class EtcdTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    data_ = new testing::ScratchDir();
    etcd_ = testing::StartEtcd(data_->path() + "/etcd", &port_).release();
  }
  static void TearDownTestSuite() {
    delete etcd_;
    delete data_;
  }
  void SetUp() override { ASSERT_GT(port_, 0) << "etcd did not start"; }

  static std::string Endpoint() { return "http://127.0.0.1:" + std::to_string(port_); }
  // A prefix of this test's own.
  static std::string Prefix() {
    return absl::StrCat("/t/", ::testing::UnitTest::GetInstance()->current_test_info()->name(),
                        "/");
  }
  static void Compact(int64_t revision) {
    testing::HttpReply reply = testing::HttpClient(port_).Post(
        "/v3/kv/compaction", absl::StrCat(R"({"revision":")", revision, R"(","physical":true})"),
        "application/json");
    ASSERT_EQ(reply.status, 200) << reply.body;
  }

  static inline testing::ScratchDir* data_ = nullptr;
  static inline testing::ChildProcess* etcd_ = nullptr;
  static inline int port_ = -1;
};

TEST_F(EtcdTest, LeaseGrantPutGetKeepAliveRevoke) {
  EtcdClient client(Endpoint());
  const std::string prefix = Prefix();
  absl::StatusOr<int64_t> lease = client.GrantLease(5);
  ASSERT_TRUE(lease.ok()) << lease.status();
  ASSERT_TRUE(client.Put(prefix + "a", "1", *lease).ok());
  ASSERT_TRUE(client.Put(prefix + "b", std::string("\0\xff binary", 9), *lease).ok());
  ASSERT_TRUE(client.Put(prefix + "c", "", 0).ok());  // no lease
  ASSERT_TRUE(client.Put(Prefix().substr(0, prefix.size() - 1) + "X", "outside").ok());

  absl::StatusOr<RangeResult> range = client.GetPrefix(prefix);
  ASSERT_TRUE(range.ok()) << range.status();
  EXPECT_THAT(Keys(*range), ElementsAre(prefix + "a", prefix + "b", prefix + "c"));
  EXPECT_EQ(range->kvs[1].value, std::string("\0\xff binary", 9));
  EXPECT_EQ(range->kvs[2].value, "");
  EXPECT_GT(range->kvs[0].mod_revision, 0);
  EXPECT_GE(range->revision, range->kvs[2].mod_revision);

  absl::StatusOr<int64_t> ttl = client.KeepAlive(*lease);
  ASSERT_TRUE(ttl.ok()) << ttl.status();
  EXPECT_GT(*ttl, 0);
  EXPECT_LE(*ttl, 5);

  ASSERT_TRUE(client.Revoke(*lease).ok());
  range = client.GetPrefix(prefix);
  ASSERT_TRUE(range.ok());
  EXPECT_THAT(Keys(*range), ElementsAre(prefix + "c"));  // a and b vanished with the lease
  EXPECT_EQ(client.KeepAlive(*lease).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(client.Revoke(*lease).code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(client.Put(prefix + "d", "x", *lease).code(), absl::StatusCode::kNotFound);

  ASSERT_TRUE(client.Delete(prefix + "c").ok());
  ASSERT_TRUE(client.Delete(prefix + "never-was").ok());
  range = client.GetPrefix(prefix);
  ASSERT_TRUE(range.ok());
  EXPECT_TRUE(range->kvs.empty());
}

TEST_F(EtcdTest, WatchSeesPutsAndDeletesAndStops) {
  EtcdClient client(Endpoint());
  const std::string prefix = Prefix();
  absl::StatusOr<RangeResult> range = client.GetPrefix(prefix);
  ASSERT_TRUE(range.ok());
  std::mutex mu;
  std::vector<WatchEvent> events;
  std::atomic<bool> stop{false};
  absl::Status status;
  std::thread watcher([&] {
    status = client.Watch(
        prefix, range->revision + 1,
        [&](const WatchBatch& batch) {
          std::lock_guard<std::mutex> lock(mu);
          events.insert(events.end(), batch.events.begin(), batch.events.end());
          return true;
        },
        &stop, 10000);
  });
  ASSERT_TRUE(client.Put(prefix + "a", "1").ok());
  ASSERT_TRUE(client.Put(prefix + "b", "2").ok());
  ASSERT_TRUE(client.Put(prefix + "a", "3").ok());
  ASSERT_TRUE(client.Delete(prefix + "a").ok());
  ASSERT_TRUE(client.Put(prefix.substr(0, prefix.size() - 1) + "Z", "not ours").ok());
  auto count = [&] {
    std::lock_guard<std::mutex> lock(mu);
    return events.size();
  };
  EXPECT_TRUE(WaitUntil([&] { return count() >= 4; }, milliseconds(3000)));
  std::this_thread::sleep_for(milliseconds(100));  // nothing else arrives
  const Clock::time_point stopping = Clock::now();
  stop = true;
  watcher.join();
  EXPECT_LT(MsSince(stopping), 500);
  EXPECT_TRUE(status.ok()) << status;
  ASSERT_EQ(events.size(), 4u);
  EXPECT_TRUE(events[0].put);
  EXPECT_EQ(events[0].key, prefix + "a");
  EXPECT_EQ(events[0].value, "1");
  EXPECT_EQ(events[2].value, "3");
  EXPECT_FALSE(events[3].put);
  EXPECT_EQ(events[3].key, prefix + "a");
  for (size_t i = 1; i < events.size(); ++i) EXPECT_GT(events[i].revision, events[i - 1].revision);

  // A watch from the start replays the history; on_batch returning false
  // ends it with OK.
  int batches = 0;
  status = client.Watch(
      prefix, range->revision + 1,
      [&](const WatchBatch&) {
        ++batches;
        return false;
      },
      nullptr, 10000);
  EXPECT_TRUE(status.ok()) << status;
  EXPECT_EQ(batches, 1);
}

TEST_F(EtcdTest, WatchFromCompactedRevisionIsOutOfRange) {
  EtcdClient client(Endpoint());
  const std::string prefix = Prefix();
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(client.Put(prefix + "k", std::to_string(i)).ok());
  absl::StatusOr<RangeResult> range = client.GetPrefix(prefix);
  ASSERT_TRUE(range.ok());
  Compact(range->revision);
  absl::Status status = client.Watch(
      prefix, 1, [](const WatchBatch&) { return true; }, nullptr, 5000);
  EXPECT_EQ(status.code(), absl::StatusCode::kOutOfRange) << status;
  EXPECT_THAT(status.message(), HasSubstr(absl::StrCat("compact_revision ", range->revision)));
}

TEST_F(EtcdTest, ProgressNotificationsKeepAQuietWatchAlive) {
  // etcd runs with a progress notification every second (support/etcd_server).
  EtcdClient client(Endpoint());
  const std::string prefix = Prefix();
  absl::StatusOr<RangeResult> range = client.GetPrefix(prefix);
  ASSERT_TRUE(range.ok());
  int notifications = 0;
  Clock::time_point start = Clock::now();
  absl::Status status = client.Watch(
      prefix, range->revision + 1,
      [&](const WatchBatch& batch) {
        EXPECT_TRUE(batch.events.empty());
        EXPECT_GE(batch.revision, range->revision);
        return ++notifications < 2;
      },
      nullptr, /*idle_timeout_ms=*/1800);
  EXPECT_TRUE(status.ok()) << status;  // two notifications, never 1.8 s idle
  EXPECT_EQ(notifications, 2);
  EXPECT_GE(MsSince(start), 1000);

  // Shorter than the notification interval: the idle timeout ends it.
  start = Clock::now();
  status = client.Watch(
      prefix, range->revision + 1, [](const WatchBatch&) { return true; }, nullptr, 400);
  EXPECT_EQ(status.code(), absl::StatusCode::kDeadlineExceeded) << status;
  EXPECT_LT(MsSince(start), 1500);
}

TEST_F(EtcdTest, DirectoryFollowsARegistrar) {
  const std::string prefix = Prefix();
  EtcdDirectory directory(Endpoint(), prefix, kModel);
  ASSERT_TRUE(directory.Start().ok());
  DirectoryView view = directory.View();
  EXPECT_FALSE(view.stale) << view.stale_reason;
  EXPECT_TRUE(view.registrations.empty());

  EtcdRegistrar registrar(Endpoint(), prefix, 3);
  ASSERT_TRUE(registrar.Start().ok());
  EXPECT_GT(registrar.lease(), 0);
  const std::vector<Registration> two = {Reg(7002, "day/2026-11-22", 1, 2),
                                         Reg(7001, "day/2026-11-22", 0, 2)};
  ASSERT_TRUE(registrar.Set(two).ok());
  std::optional<int64_t> took =
      WaitUntil([&] { return directory.View().registrations.size() == 2; }, milliseconds(3000));
  ASSERT_TRUE(took.has_value());
  EXPECT_LT(*took, 1000);
  view = directory.View();
  EXPECT_FALSE(view.stale);
  EXPECT_THAT(view.registrations, ElementsAre(two[1], two[0]));  // in key order
  EXPECT_THAT(view.servers, ElementsAre("127.0.0.1:7001", "127.0.0.1:7002"));
  const int64_t generation = view.generation;

  // A second shard on one server: one more registration, no new server.
  ASSERT_TRUE(registrar.Set({two[0], two[1], Reg(7001, "all")}).ok());
  took = WaitUntil([&] { return directory.View().registrations.size() == 3; }, milliseconds(3000));
  ASSERT_TRUE(took.has_value());
  EXPECT_LT(*took, 1000);
  EXPECT_EQ(directory.View().servers.size(), 2u);
  EXPECT_GT(directory.View().generation, generation);

  // Deleted from the set: deleted from etcd.
  ASSERT_TRUE(registrar.Set({two[1]}).ok());
  took = WaitUntil([&] { return directory.View().registrations.size() == 1; }, milliseconds(3000));
  ASSERT_TRUE(took.has_value());
  EXPECT_LT(*took, 1000);
  EXPECT_THAT(directory.View().servers, ElementsAre("127.0.0.1:7001"));

  // A new version of a shard replaces the registration.
  Registration newer = two[1];
  newer.version = 18;
  ASSERT_TRUE(registrar.Set({newer}).ok());
  EXPECT_TRUE(WaitUntil(
      [&] {
        DirectoryView v = directory.View();
        return v.registrations.size() == 1 && v.registrations[0].version == 18;
      },
      milliseconds(1000)));

  // A later directory lists what is there.
  EtcdDirectory later(Endpoint(), prefix, kModel);
  ASSERT_TRUE(later.Start().ok());
  EXPECT_THAT(later.View().registrations, ElementsAre(newer));

  // Stop revokes the lease: every registration vanishes at once.
  registrar.Stop();
  EXPECT_EQ(registrar.lease(), 0);
  took = WaitUntil([&] { return directory.View().registrations.empty(); }, milliseconds(3000));
  ASSERT_TRUE(took.has_value());
  EXPECT_LT(*took, 1000);
  EXPECT_TRUE(directory.View().servers.empty());
  EXPECT_EQ(registrar.Set({newer}).code(), absl::StatusCode::kFailedPrecondition);

  const Clock::time_point stopping = Clock::now();
  directory.Stop();
  EXPECT_LT(MsSince(stopping), 1000);
  EXPECT_TRUE(directory.View().registrations.empty());  // still readable
}

TEST_F(EtcdTest, AbandonedRegistrationsExpireAfterTheTtl) {
  const std::string prefix = Prefix();
  EtcdDirectory directory(Endpoint(), prefix, kModel);
  ASSERT_TRUE(directory.Start().ok());
  EtcdRegistrar registrar(Endpoint(), prefix, /*ttl_seconds=*/2);
  ASSERT_TRUE(registrar.Start().ok());
  ASSERT_TRUE(registrar.Set({Reg(7001), Reg(7002)}).ok());
  ASSERT_TRUE(
      WaitUntil([&] { return directory.View().registrations.size() == 2; }, milliseconds(1000)));
  std::this_thread::sleep_for(milliseconds(1500));  // keepalives hold them past the TTL
  ASSERT_EQ(directory.View().registrations.size(), 2u);

  registrar.Abandon();  // the process died: no revoke
  std::optional<int64_t> took =
      WaitUntil([&] { return directory.View().registrations.empty(); }, milliseconds(5000));
  ASSERT_TRUE(took.has_value()) << "registrations outlived their lease";
  EXPECT_GT(*took, 500);   // not revoked: they lived on for most of the TTL
  EXPECT_LT(*took, 3500);  // TTL 2 s + etcd's expiry check
  EXPECT_FALSE(directory.View().stale);
}

TEST_F(EtcdTest, RegistrarRegistersAgainWhenItsLeaseIsGone) {
  // As after an etcd restart without its data, or an expiry during an outage.
  const std::string prefix = Prefix();
  EtcdDirectory directory(Endpoint(), prefix, kModel);
  ASSERT_TRUE(directory.Start().ok());
  EtcdRegistrar registrar(Endpoint(), prefix, /*ttl_seconds=*/3);
  ASSERT_TRUE(registrar.Start().ok());
  ASSERT_TRUE(registrar.Set({Reg(7001), Reg(7002, "month/2026-11")}).ok());
  ASSERT_TRUE(
      WaitUntil([&] { return directory.View().registrations.size() == 2; }, milliseconds(1000)));

  const int64_t lease = registrar.lease();
  EtcdClient client(Endpoint());
  ASSERT_TRUE(client.Revoke(lease).ok());
  ASSERT_TRUE(
      WaitUntil([&] { return directory.View().registrations.empty(); }, milliseconds(1000)));
  // The next keepalive (every ttl/3 = 1 s) finds the lease gone.
  std::optional<int64_t> took =
      WaitUntil([&] { return directory.View().registrations.size() == 2; }, milliseconds(4000));
  ASSERT_TRUE(took.has_value()) << "the registrar did not register again";
  EXPECT_LT(*took, 2500);
  EXPECT_NE(registrar.lease(), lease);
  EXPECT_GT(registrar.lease(), 0);
}

TEST_F(EtcdTest, DirectorySkipsGarbageValues) {
  const std::string prefix = Prefix();
  const std::string base = prefix + kModel + "/";
  EtcdClient client(Endpoint());
  const Registration good = Reg(7001);
  const Registration other = Reg(7002);
  ASSERT_TRUE(client.Put(RegistrationKey(prefix, good), RegistrationJson(good)).ok());
  const std::map<std::string, std::string> garbage = {
      {base + "all/part-0-of-1/junk:1", "not json"},
      {base + "all/part-0-of-1/empty:1", ""},
      {base + "all/part-0-of-1/deep:1", std::string(100000, '[')},
      {base + "all/part-0-of-1/huge:1",
       R"({"address":"huge:1","model":"m@1","window":"all","version":1e300})"},
      {base + "all/part-0-of-1/binary:1", std::string("\0\xff\xfe{", 4)},
      // Valid registrations under the wrong key.
      {base + "all/part-0-of-1/liar:1", RegistrationJson(other)},
      {base + "x", RegistrationJson(other)},
  };
  for (const auto& [key, value] : garbage) ASSERT_TRUE(client.Put(key, value).ok());
  Registration other_model = other;
  other_model.model = "m@2";
  ASSERT_TRUE(client.Put(RegistrationKey(prefix, other_model), RegistrationJson(other_model)).ok());

  EtcdDirectory directory(Endpoint(), prefix, kModel);
  ASSERT_TRUE(directory.Start().ok());
  EXPECT_THAT(directory.View().registrations, ElementsAre(good));  // listed

  // Through the watch: garbage arrives, a good one follows.
  for (const auto& [key, value] : garbage) ASSERT_TRUE(client.Put(key, value + " ").ok());
  ASSERT_TRUE(client.Put(RegistrationKey(prefix, other), RegistrationJson(other)).ok());
  ASSERT_TRUE(
      WaitUntil([&] { return directory.View().registrations.size() == 2; }, milliseconds(1000)));
  EXPECT_THAT(directory.View().registrations, ElementsAre(good, other));

  // A registration overwritten with garbage is dropped; put back, it returns.
  ASSERT_TRUE(client.Put(RegistrationKey(prefix, good), "{\"oops\":").ok());
  ASSERT_TRUE(
      WaitUntil([&] { return directory.View().registrations.size() == 1; }, milliseconds(1000)));
  EXPECT_THAT(directory.View().registrations, ElementsAre(other));
  ASSERT_TRUE(client.Put(RegistrationKey(prefix, good), RegistrationJson(good)).ok());
  ASSERT_TRUE(
      WaitUntil([&] { return directory.View().registrations.size() == 2; }, milliseconds(1000)));
  EXPECT_FALSE(directory.View().stale);
}

TEST_F(EtcdTest, DirectoriesKeepUpAcrossACompaction) {
  const std::string prefix = Prefix();
  EtcdDirectory early(Endpoint(), prefix, kModel);
  ASSERT_TRUE(early.Start().ok());
  EtcdRegistrar registrar(Endpoint(), prefix, 5);
  ASSERT_TRUE(registrar.Start().ok());
  // Many revisions: a growing set, then half of it withdrawn.
  std::vector<Registration> regs;
  for (int i = 0; i < 40; ++i) {
    regs.push_back(Reg(7000 + i % 8, "day/2026-11-" + std::to_string(10 + i / 8), i % 8, 8));
    ASSERT_TRUE(registrar.Set(regs).ok());
  }
  regs.resize(20);
  ASSERT_TRUE(registrar.Set(regs).ok());
  EtcdClient client(Endpoint());
  absl::StatusOr<RangeResult> range = client.GetPrefix(prefix);
  ASSERT_TRUE(range.ok());
  Compact(range->revision);
  // More changes after the compaction.
  regs.push_back(Reg(7100, "all"));
  ASSERT_TRUE(registrar.Set(regs).ok());

  std::vector<Registration> expected;
  for (const Registration& r : regs) expected.push_back(r);
  std::sort(expected.begin(), expected.end(), [](const Registration& a, const Registration& b) {
    return RegistrationKey("", a) < RegistrationKey("", b);
  });
  ASSERT_TRUE(
      WaitUntil([&] { return early.View().registrations == expected; }, milliseconds(2000)));
  EtcdDirectory late(Endpoint(), prefix, kModel);
  ASSERT_TRUE(late.Start().ok());
  EXPECT_EQ(late.View().registrations, expected);
  EXPECT_EQ(late.View().servers, early.View().servers);
  EXPECT_EQ(late.View().servers.size(), 9u);
}

// ---------------------------------------------------------------------------
// etcd stopped, hung and restarted: an etcd of this test's own.

TEST(EtcdOutageTest, DirectoryIsStaleWhileEtcdIsDownAndRecovers) {
  testing::ScratchDir data;
  const std::string data_dir = data.path() + "/etcd";
  const int port = testing::FreeLoopbackPort();
  const int peer_port = testing::FreeLoopbackPort();
  int started_port = -1;
  std::unique_ptr<testing::ChildProcess> etcd =
      testing::StartEtcd(data_dir, &started_port, port, peer_port);
  ASSERT_EQ(started_port, port) << "etcd did not start";
  const std::string endpoint = "http://127.0.0.1:" + std::to_string(port);

  EtcdDirectoryOptions options;
  options.request_timeout_ms = 500;
  options.watch_idle_timeout_ms = 1500;  // etcd notifies progress every second
  auto directory = std::make_unique<EtcdDirectory>(endpoint, kDefaultPrefix, kModel, options);
  ASSERT_TRUE(directory->Start().ok());
  EtcdRegistrar registrar(endpoint, kDefaultPrefix, /*ttl_seconds=*/5, 500);
  ASSERT_TRUE(registrar.Start().ok());
  const std::vector<Registration> regs = {Reg(7001), Reg(7002)};
  ASSERT_TRUE(registrar.Set(regs).ok());
  ASSERT_TRUE(
      WaitUntil([&] { return directory->View().registrations.size() == 2; }, milliseconds(1000)));

  // Hung (SIGSTOP): connections stay open, nothing answers. The idle watch
  // ends, the list times out: stale, with the last view kept.
  ASSERT_EQ(kill(etcd->pid(), SIGSTOP), 0);
  std::optional<int64_t> took =
      WaitUntil([&] { return directory->View().stale; }, milliseconds(6000));
  ASSERT_TRUE(took.has_value()) << "a hung etcd went unnoticed";
  DirectoryView view = directory->View();
  EXPECT_EQ(view.registrations, regs);
  EXPECT_FALSE(view.stale_reason.empty());
  ASSERT_EQ(kill(etcd->pid(), SIGCONT), 0);
  took = WaitUntil([&] { return !directory->View().stale; }, milliseconds(5000));
  ASSERT_TRUE(took.has_value()) << "still stale after etcd resumed";
  EXPECT_EQ(directory->View().registrations, regs);

  // Stopped: the watch ends, the list fails at once.
  ASSERT_NE(etcd->Stop(SIGTERM, std::chrono::seconds(10)), -1);
  took = WaitUntil([&] { return directory->View().stale; }, milliseconds(3000));
  ASSERT_TRUE(took.has_value()) << "a stopped etcd went unnoticed";
  EXPECT_LT(*took, 1500);
  view = directory->View();
  EXPECT_EQ(view.registrations, regs);  // the last view
  EXPECT_THAT(view.servers, ElementsAre("127.0.0.1:7001", "127.0.0.1:7002"));
  EXPECT_THAT(view.stale_reason, HasSubstr(endpoint));
  std::this_thread::sleep_for(milliseconds(1000));  // several failed retries
  EXPECT_TRUE(directory->View().stale);

  // Restarted on the same data and ports: fresh again, registrations back
  // (etcd kept the lease, and reset its TTL), and the registrar resumes.
  etcd = testing::StartEtcd(data_dir, &started_port, port, peer_port);
  ASSERT_EQ(started_port, port) << "etcd did not restart";
  took = WaitUntil([&] { return !directory->View().stale; }, milliseconds(5000));
  ASSERT_TRUE(took.has_value()) << "still stale after etcd restarted";
  EXPECT_LT(*took, 3000);  // backoff at most 2 s
  EXPECT_EQ(directory->View().registrations, regs);
  // The registrar's Set may race its first keepalive after the outage; it
  // keeps trying either way.
  (void)registrar.Set({regs[0]});
  ASSERT_TRUE(
      WaitUntil([&] { return directory->View().registrations.size() == 1; }, milliseconds(3000)));

  // Stop is prompt even while etcd hangs.
  ASSERT_EQ(kill(etcd->pid(), SIGSTOP), 0);
  std::this_thread::sleep_for(milliseconds(300));
  const Clock::time_point stopping = Clock::now();
  directory.reset();
  EXPECT_LT(MsSince(stopping), 1000);
  ASSERT_EQ(kill(etcd->pid(), SIGCONT), 0);
}

}  // namespace
}  // namespace photosearch
