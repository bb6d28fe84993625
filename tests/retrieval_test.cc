// Retrieval quality end to end: the grocery test set (2,485 photos, 81 fine
// classes) is indexed with `photosearch index` and searched through the HTTP
// API of `photosearch serve`, exactly as a user would.
//
//  - leave-one-out: every photo is a query; its own hit is dropped, the rest
//    is ranked. Nearest-neighbour fine-class accuracy >= 0.93 and
//    precision@5 >= 0.78 (the model's known figures are 0.953 and 0.816).
//  - near duplicates: 100 photos, each cropped to 80% of its area, rescaled
//    to half size and re-encoded at JPEG quality 40, must find their original
//    at rank 1 in >= 95% of cases per kind.
#include <atomic>
#include <cstdio>
#include <fstream>
#include <map>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <random>
#include <sstream>
#include <thread>

#include "base/files.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "support/grocery.h"
#include "support/http_client.h"
#include "support/test_env.h"

namespace photosearch {
namespace {

using nlohmann::json;
using testing::HttpClient;
using testing::HttpReply;

using testing::GroceryDir;
using testing::GroceryPhoto;

std::vector<GroceryPhoto> ReadLabels() { return testing::ReadGroceryTestSet(); }

// Runs fn(i) for i in [0, n) on `threads` threads (the server batches
// concurrent requests, so two clients keep both of its cores busy).
template <typename Fn>
void ParallelFor(int n, int threads, Fn fn) {
  std::atomic<int> next{0};
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&] {
      for (int i = next++; i < n; i = next++) fn(i);
    });
  }
  for (std::thread& th : pool) th.join();
}

std::vector<std::string> ItemIds(const HttpReply& reply) {
  std::vector<std::string> ids;
  if (reply.status != 200) return ids;
  json body = json::parse(reply.body);  // named: a temporary would dangle in the loop
  for (const json& r : body["results"]) ids.push_back(r["item_id"]);
  return ids;
}

std::string EncodeJpeg(const cv::Mat& img, int quality) {
  std::vector<uchar> out;
  cv::imencode(".jpg", img, out, {cv::IMWRITE_JPEG_QUALITY, quality});
  return std::string(out.begin(), out.end());
}

class RetrievalTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    photos_ = new std::vector<GroceryPhoto>(ReadLabels());
    ASSERT_EQ(photos_->size(), 2485u) << "test.txt under " << GroceryDir();
    repo_ = new testing::ScratchDir();
    std::string output;
    int code = testing::RunCommand({testing::PhotosearchBin(), "index", "--photos",
                                    GroceryDir() + "/test", "--repo", repo_->path()},
                                   &output);
    ASSERT_EQ(code, 0) << output;
    server_ = testing::StartServe({"--repo", repo_->path()}, &port_).release();
    ASSERT_GT(port_, 0) << "serve did not start";
  }
  static void TearDownTestSuite() {
    delete server_;
    delete repo_;
    delete photos_;
  }

  static std::vector<GroceryPhoto>* photos_;
  static testing::ScratchDir* repo_;
  static testing::ChildProcess* server_;
  static int port_;
};
std::vector<GroceryPhoto>* RetrievalTest::photos_ = nullptr;
testing::ScratchDir* RetrievalTest::repo_ = nullptr;
testing::ChildProcess* RetrievalTest::server_ = nullptr;
int RetrievalTest::port_ = 0;

TEST_F(RetrievalTest, LeaveOneOutNearestNeighbourAndPrecisionAt5) {
  std::map<std::string, int> class_of;
  for (const GroceryPhoto& p : *photos_) class_of[p.item_id] = p.fine_class;
  const int n = static_cast<int>(photos_->size());
  std::vector<int> top1_hit(n, -1), top5_hits(n, -1);
  std::vector<std::string> errors(n);

  ParallelFor(n, 2, [&](int i) {
    const GroceryPhoto& query = (*photos_)[i];
    auto bytes = ReadFile(GroceryDir() + "/test/" + query.item_id);
    if (!bytes.ok()) {
      errors[i] = std::string(bytes.status().message());
      return;
    }
    HttpReply reply = HttpClient(port_).Post("/v1/search?k=6", *bytes, "image/jpeg");
    std::vector<std::string> ids = ItemIds(reply);
    if (ids.size() != 6) {
      errors[i] = "HTTP " + std::to_string(reply.status) + ": " + reply.body;
      return;
    }
    // Leave the query out (it is normally rank 1; drop it wherever it is).
    std::vector<std::string> others;
    for (const std::string& id : ids) {
      if (id != query.item_id) others.push_back(id);
    }
    others.resize(5);
    top1_hit[i] = class_of.at(others[0]) == query.fine_class;
    int same = 0;
    for (const std::string& id : others) same += class_of.at(id) == query.fine_class;
    top5_hits[i] = same;
  });

  int top1 = 0, top5 = 0, failed = 0;
  for (int i = 0; i < n; ++i) {
    if (!errors[i].empty()) {
      if (++failed <= 5) ADD_FAILURE() << (*photos_)[i].item_id << ": " << errors[i];
      continue;
    }
    top1 += top1_hit[i];
    top5 += top5_hits[i];
  }
  ASSERT_EQ(failed, 0);
  double accuracy = static_cast<double>(top1) / n;
  double precision5 = static_cast<double>(top5) / (5.0 * n);
  std::printf("leave-one-out over %d photos: 1-NN fine-class accuracy %.4f, precision@5 %.4f\n", n,
              accuracy, precision5);
  EXPECT_GE(accuracy, 0.93);
  EXPECT_GE(precision5, 0.78);
}

TEST_F(RetrievalTest, NearDuplicatesFindTheirOriginalAtRankOne) {
  const int kPhotos = 100;
  const int stride = static_cast<int>(photos_->size()) / kPhotos;
  const char* kKinds[] = {"crop 80% area", "rescale 0.5x", "JPEG quality 40"};
  std::vector<std::array<int, 3>> found(kPhotos, {-1, -1, -1});

  ParallelFor(kPhotos, 2, [&](int q) {
    const GroceryPhoto& original = (*photos_)[q * stride];
    cv::Mat img = cv::imread(GroceryDir() + "/test/" + original.item_id, cv::IMREAD_COLOR);
    if (img.empty()) return;
    std::mt19937 rng(1000 + q);
    // 80% of the area: each side scaled by sqrt(0.8), placed at random.
    const double side = std::sqrt(0.8);
    int w = static_cast<int>(img.cols * side), h = static_cast<int>(img.rows * side);
    int x = std::uniform_int_distribution<int>(0, img.cols - w)(rng);
    int y = std::uniform_int_distribution<int>(0, img.rows - h)(rng);
    cv::Mat half;
    cv::resize(img, half, cv::Size(), 0.5, 0.5, cv::INTER_AREA);
    std::string variants[3] = {EncodeJpeg(img(cv::Rect(x, y, w, h)).clone(), 95),
                               EncodeJpeg(half, 95), EncodeJpeg(img, 40)};
    HttpClient client(port_);
    for (int kind = 0; kind < 3; ++kind) {
      std::vector<std::string> ids =
          ItemIds(client.Post("/v1/search?k=1", variants[kind], "image/jpeg"));
      found[q][kind] = !ids.empty() && ids[0] == original.item_id;
    }
  });

  for (int kind = 0; kind < 3; ++kind) {
    int hits = 0, answered = 0;
    for (const auto& f : found) {
      if (f[kind] >= 0) ++answered, hits += f[kind];
    }
    EXPECT_EQ(answered, kPhotos) << kKinds[kind];
    double rate = static_cast<double>(hits) / kPhotos;
    std::printf("near duplicates, %s: rank-1 original in %.2f of %d\n", kKinds[kind], rate,
                kPhotos);
    EXPECT_GE(rate, 0.95) << kKinds[kind];
  }
}

}  // namespace
}  // namespace photosearch
