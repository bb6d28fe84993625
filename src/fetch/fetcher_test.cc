// The fetcher against a real HTTP server on 127.0.0.1 (cpp-httplib, in this
// process) that serves photos and misbehaves on purpose: 404, 500, a server
// that fails twice then answers, a slow answer, a body over the limit, and a
// truncated body.
#include "fetch/fetcher.h"

#include <httplib.h>

#include <filesystem>
#include <thread>

#include "base/files.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "support/test_env.h"

namespace photosearch {
namespace {

using ::testing::HasSubstr;

class FetcherTest : public ::testing::Test {
 protected:
  void SetUp() override {
    photo_ = *ReadFile(testing::AssetsDir() + "/photos/grocery_store/test/Fruit/Kiwi/Kiwi_001.jpg");
    server_.Get(
        R"(/photo/(\d+)\.jpg)", [this](const httplib::Request& req, httplib::Response& res) {
          hits_++;
          res.set_content(photo_ + req.matches[1].str(), "image/jpeg");  // distinct bytes per URL
        });
    server_.Get("/missing.jpg",
                [](const httplib::Request&, httplib::Response& res) { res.status = 404; });
    server_.Get("/broken.jpg", [this](const httplib::Request&, httplib::Response& res) {
      hits_++;
      res.status = 500;
    });
    server_.Get("/flaky.jpg", [this](const httplib::Request&, httplib::Response& res) {
      if (++flaky_ <= 2) {
        res.status = 503;
        return;
      }
      res.set_content(photo_, "image/jpeg");
    });
    server_.Get("/slow.jpg", [this](const httplib::Request&, httplib::Response& res) {
      std::this_thread::sleep_for(std::chrono::milliseconds(2500));
      res.set_content(photo_, "image/jpeg");
    });
    server_.Get("/huge.jpg", [](const httplib::Request&, httplib::Response& res) {
      res.set_content(std::string(3 << 20, 'x'), "image/jpeg");
    });
    server_.Get("/truncated.jpg", [this](const httplib::Request&, httplib::Response& res) {
      // Promises more bytes than it sends, then closes.
      res.set_content_provider(photo_.size() * 2, "image/jpeg",
                               [this](size_t offset, size_t, httplib::DataSink& sink) {
                                 if (offset >= photo_.size()) return false;
                                 sink.write(photo_.data(), photo_.size());
                                 return true;
                               });
    });
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    while (!server_.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    options_.cache_dir = cache_.path();
    options_.backoff_ms = 10;
    options_.timeout_seconds = 1;
    options_.max_bytes = 1 << 20;
  }
  void TearDown() override {
    server_.stop();
    thread_.join();
  }
  std::string Url(const std::string& path) {
    return "http://127.0.0.1:" + std::to_string(port_) + path;
  }

  httplib::Server server_;
  std::thread thread_;
  int port_ = 0;
  std::string photo_;
  std::atomic<int> hits_{0}, flaky_{0};
  testing::ScratchDir cache_;
  FetchOptions options_;
};

TEST_F(FetcherTest, GoodBadAndFlakyUrls) {
  auto fetcher = *Fetcher::Create(options_);
  auto ok = fetcher->Fetch(Url("/photo/1.jpg"));
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_EQ(*ok, photo_ + "1");

  auto missing = fetcher->Fetch(Url("/missing.jpg"));
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(missing.status().message(), HasSubstr("HTTP 404"));

  hits_ = 0;
  auto broken = fetcher->Fetch(Url("/broken.jpg"));
  EXPECT_EQ(broken.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(broken.status().message(), HasSubstr("HTTP 500 (after 3 attempts)"));
  EXPECT_EQ(hits_, 3);

  auto flaky = fetcher->Fetch(Url("/flaky.jpg"));  // 503, 503, then 200
  ASSERT_TRUE(flaky.ok()) << flaky.status();
  EXPECT_EQ(flaky_, 3);

  auto slow = fetcher->Fetch(Url("/slow.jpg"));
  EXPECT_EQ(slow.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(slow.status().message(), HasSubstr("timed out"));

  auto huge = fetcher->Fetch(Url("/huge.jpg"));
  EXPECT_EQ(huge.status().code(), absl::StatusCode::kResourceExhausted);

  auto truncated = fetcher->Fetch(Url("/truncated.jpg"));
  EXPECT_FALSE(truncated.ok());

  for (const char* bad :
       {"ftp://x/y.jpg", "http://", "http://h/a b.jpg", "", "file:///etc/passwd"}) {
    EXPECT_FALSE(fetcher->Fetch(bad).ok()) << bad;
  }
  EXPECT_GE(fetcher->stats().retries, 4);
  EXPECT_EQ(fetcher->stats().downloads, 2);
}

TEST_F(FetcherTest, TheCacheServesRepeatsAcrossFetchersAndStaysUnderItsSize) {
  {
    auto fetcher = *Fetcher::Create(options_);
    for (int i = 0; i < 5; ++i)
      ASSERT_TRUE(fetcher->Fetch(Url("/photo/" + std::to_string(i) + ".jpg")).ok());
  }
  hits_ = 0;
  auto again = *Fetcher::Create(options_);  // a new process would see the same cache
  bool from_cache = false;
  auto bytes = again->Fetch(Url("/photo/3.jpg"), &from_cache);
  ASSERT_TRUE(bytes.ok());
  EXPECT_TRUE(from_cache);
  EXPECT_EQ(*bytes, photo_ + "3");
  EXPECT_EQ(hits_, 0);

  // Room for three photos: the least recently used go first.
  FetchOptions small = options_;
  small.cache_max_bytes = 3 * (photo_.size() + 1) + 10;
  auto bounded = *Fetcher::Create(small);
  EXPECT_LE(bounded->cache_bytes(), small.cache_max_bytes);
  ASSERT_TRUE(bounded->Fetch(Url("/photo/0.jpg")).ok());  // now the most recent
  ASSERT_TRUE(bounded->Fetch(Url("/photo/9.jpg")).ok());  // evicts one more
  EXPECT_LE(bounded->cache_bytes(), small.cache_max_bytes);
  hits_ = 0;
  ASSERT_TRUE(bounded->Fetch(Url("/photo/0.jpg"), &from_cache).ok());
  EXPECT_TRUE(from_cache);
  ASSERT_TRUE(bounded->Fetch(Url("/photo/1.jpg"), &from_cache).ok());
  EXPECT_FALSE(from_cache);  // evicted
}

TEST_F(FetcherTest, FetchAllRunsConcurrentlyAndReportsEveryUrl) {
  options_.concurrency = 8;
  auto fetcher = *Fetcher::Create(options_);
  std::vector<std::string> urls;
  for (int i = 0; i < 60; ++i) urls.push_back(Url("/photo/" + std::to_string(i) + ".jpg"));
  urls.push_back(Url("/missing.jpg"));
  std::vector<int> done(urls.size(), 0);
  std::atomic<int> failed{0};
  fetcher->FetchAll(urls, [&](size_t i, absl::StatusOr<std::string> bytes) {
    done[i]++;
    if (!bytes.ok()) failed++;
  });
  for (int d : done) EXPECT_EQ(d, 1);
  EXPECT_EQ(failed, 1);

  std::atomic<bool> cancelled{true};
  int calls = 0;
  fetcher->FetchAll(
      urls, [&](size_t, absl::StatusOr<std::string>) { calls++; }, &cancelled);
  EXPECT_EQ(calls, 0);
}

TEST_F(FetcherTest, FileUrlsOnlyUnderTheAllowedFolder) {
  testing::ScratchDir root;
  ASSERT_TRUE(WriteFileAtomic(root / "a.jpg", "bytes").ok());
  options_.file_root = root.path();
  auto fetcher = *Fetcher::Create(options_);
  EXPECT_EQ(*fetcher->Fetch("file://" + (root / "a.jpg")), "bytes");
  EXPECT_EQ(fetcher->Fetch("file://" + (root / "../a.jpg")).status().code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(fetcher->Fetch("file:///etc/passwd").status().code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(fetcher->Fetch("file://" + (root / "none.jpg")).status().code(),
            absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace photosearch
