// The REST API of `photosearch serve` under good and bad input: every bad
// request gets the right 4xx with a JSON error, and the next valid request
// still succeeds. The server runs as a real process on 127.0.0.1.
#include <signal.h>
#include <sys/wait.h>

#include <filesystem>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <thread>

#include "base/files.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "support/http_client.h"
#include "support/test_env.h"

namespace photosearch {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using ::testing::HasSubstr;
using testing::HttpClient;
using testing::HttpReply;

constexpr char kModel[] = "mobilenetv2-gap1280-fp32@1";
constexpr int kMaxBodyBytes = 1'000'000;

std::string Photos() { return testing::AssetsDir() + "/photos/grocery_store/test/Fruit/Kiwi"; }

class HttpApiTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    repo_ = new testing::ScratchDir();
    std::string output;
    int code = testing::RunCommand(
        {testing::PhotosearchBin(), "index", "--photos", Photos(), "--repo", repo_->path()},
        &output);
    ASSERT_EQ(code, 0) << output;
    server_ = testing::StartServe({"--repo", repo_->path(), "--photos", Photos(), "--poll-seconds",
                                   "1", "--max-body-bytes", std::to_string(kMaxBodyBytes)},
                                  &port_)
                  .release();
    ASSERT_GT(port_, 0) << "serve did not start";
    jpeg_ = new std::string(*ReadFile(Photos() + "/Kiwi_001.jpg"));
  }
  static void TearDownTestSuite() {
    delete server_;
    delete repo_;
    delete jpeg_;
  }

  HttpReply SearchJpeg(const std::string& query = "?k=3") {
    return HttpClient(port_).Post("/v1/search" + query, *jpeg_, "image/jpeg");
  }

  void ExpectValidSearchWorks() {
    HttpReply reply = SearchJpeg();
    ASSERT_EQ(reply.status, 200) << reply.body;
    json j = json::parse(reply.body);
    ASSERT_EQ(j["results"].size(), 3u);
    EXPECT_EQ(j["results"][0]["item_id"], "Kiwi_001.jpg");
  }

  static testing::ScratchDir* repo_;
  static testing::ChildProcess* server_;
  static int port_;
  static std::string* jpeg_;
};
testing::ScratchDir* HttpApiTest::repo_ = nullptr;
testing::ChildProcess* HttpApiTest::server_ = nullptr;
int HttpApiTest::port_ = 0;
std::string* HttpApiTest::jpeg_ = nullptr;

std::string Encode(const char* ext, const std::string& jpeg) {
  cv::Mat img = cv::imdecode(
      cv::Mat(1, static_cast<int>(jpeg.size()), CV_8UC1, const_cast<char*>(jpeg.data())),
      cv::IMREAD_COLOR);
  std::vector<uchar> out;
  cv::imencode(ext, img, out);
  return std::string(out.begin(), out.end());
}

std::string VectorBody(std::vector<double> values, const std::string& model, int k = 3) {
  return json{{"vector", values}, {"model", model}, {"k", k}}.dump();
}

TEST_F(HttpApiTest, SearchByPhotoInEveryForm) {
  HttpReply raw = SearchJpeg();
  ASSERT_EQ(raw.status, 200) << raw.body;
  EXPECT_THAT(raw.content_type, HasSubstr("application/json"));
  json j = json::parse(raw.body);
  EXPECT_EQ(j["model"], kModel);
  EXPECT_EQ(j["results"][0]["item_id"], "Kiwi_001.jpg");
  EXPECT_NEAR(j["results"][0]["score"].get<double>(), 1.0, 1e-3);
  EXPECT_GE(j["results"][0]["score"].get<double>(), j["results"][1]["score"].get<double>());
  EXPECT_EQ(j["results"][0]["image_url"], "/photos/Kiwi_001.jpg");
  for (const char* stage : {"decode", "embed", "search", "total"}) {
    EXPECT_GE(j["took_ms"][stage].get<double>(), 0) << stage;
  }
  EXPECT_EQ(json::parse(SearchJpeg("").body)["results"].size(), 10u);  // default k

  HttpClient client(port_);
  for (auto [type, bytes] : std::vector<std::pair<std::string, std::string>>{
           {"image/png", Encode(".png", *jpeg_)}, {"image/webp", Encode(".webp", *jpeg_)}}) {
    HttpReply reply = client.Post("/v1/search?k=1", bytes, type);
    ASSERT_EQ(reply.status, 200) << type << reply.body;
    EXPECT_EQ(json::parse(reply.body)["results"][0]["item_id"], "Kiwi_001.jpg") << type;
  }
  HttpReply multipart = client.PostFile("/v1/search?k=1", "image", *jpeg_, "image/jpeg");
  ASSERT_EQ(multipart.status, 200) << multipart.body;
  EXPECT_EQ(json::parse(multipart.body)["results"][0]["item_id"], "Kiwi_001.jpg");

  // A vector query (an edge client's): any unit vector of the right dimension.
  std::vector<double> axis(1280, 0.0);
  axis[7] = 3.0;  // not unit length: the server normalises it
  HttpReply vector = client.Post("/v1/search", VectorBody(axis, kModel, 4), "application/json");
  ASSERT_EQ(vector.status, 200) << vector.body;
  EXPECT_EQ(json::parse(vector.body)["results"].size(), 4u);
}

// ?detect=: the detected objects with their boxes; with all, results per
// object beside the whole photo's; primary searches with the object's crop.
TEST_F(HttpApiTest, SearchPerDetectedObject) {
  HttpClient client(port_);
  const std::string coffee = *ReadFile(testing::AssetsDir() + "/photos/scenes/coffee.jpg");
  HttpReply all = client.Post("/v1/search?k=3&detect=all", coffee, "image/jpeg");
  ASSERT_EQ(all.status, 200) << all.body;
  json j = json::parse(all.body);
  EXPECT_EQ(j["detect"], "all");
  EXPECT_EQ(j["results"].size(), 3u);  // the whole photo's
  ASSERT_FALSE(j["objects"].empty());
  bool cup = false;
  for (const json& object : j["objects"]) {
    cup = cup || object["class"] == "cup";
    const auto box = object["box"].get<std::vector<double>>();
    ASSERT_EQ(box.size(), 4u);
    EXPECT_GE(box[0], 0);
    EXPECT_LT(box[0], box[2]);
    EXPECT_LE(box[2], j["image"]["width"].get<double>());
    EXPECT_LE(box[3], j["image"]["height"].get<double>());
  }
  EXPECT_TRUE(cup) << all.body;
  int with_results = 0;  // objects too large or small to crop have none
  for (const json& object : j["objects"]) with_results += !object["results"].empty();
  EXPECT_GE(with_results, 1);
  EXPECT_GE(j["took_ms"]["detect"].get<double>(), 0);

  HttpReply primary = client.Post("/v1/search?k=2&detect=primary", coffee, "image/jpeg");
  ASSERT_EQ(primary.status, 200) << primary.body;
  json p = json::parse(primary.body);
  int searched = 0;
  for (const json& object : p["objects"]) searched += object["primary"].get<bool>();
  EXPECT_EQ(searched, 1);
  EXPECT_EQ(p["results"].size(), 2u);

  HttpReply bad = client.Post("/v1/search?detect=everything", coffee, "image/jpeg");
  EXPECT_EQ(bad.status, 400);
  EXPECT_THAT(json::parse(bad.body)["error"]["message"].get<std::string>(), HasSubstr("detect"));
}

TEST_F(HttpApiTest, BadInputGetsA4xxJsonErrorAndTheServerKeepsServing) {
  std::string huge_header = *jpeg_;
  size_t sof = huge_header.find("\xFF\xC0");
  ASSERT_NE(sof, std::string::npos);
  huge_header[sof + 5] = 0x75, huge_header[sof + 6] = 0x30;
  huge_header[sof + 7] = 0x75, huge_header[sof + 8] = 0x30;
  std::vector<double> nine(1280, 0.0);
  nine[0] = 1;
  std::string big_vector = VectorBody(nine, kModel);
  std::string inf_vector = big_vector;
  inf_vector.replace(inf_vector.find("1.0"), 3, "1e39");  // beyond float: infinity
  std::string overflow_vector = big_vector;
  size_t last_zero = overflow_vector.rfind("0.0");
  ASSERT_NE(last_zero, std::string::npos);
  overflow_vector.replace(last_zero, 3, "1e309");  // beyond double: the parser overflows
  std::vector<double> zeros(1280, 0.0);

  struct Case {
    std::string name;
    std::string query;
    std::string body;
    std::string type;
    int status;
    std::string code;
    std::string message;
  };
  std::vector<Case> cases = {
      {"empty body", "", "", "image/jpeg", 400, "INVALID_ARGUMENT", "empty image"},
      {"not an image", "", "hello world, not a photo", "image/jpeg", 400, "INVALID_ARGUMENT",
       "not an image"},
      {"truncated JPEG", "", jpeg_->substr(0, jpeg_->size() / 2), "image/jpeg", 400,
       "INVALID_ARGUMENT", "truncated JPEG"},
      {"header claims 30000x30000", "", huge_header, "image/jpeg", 413, "RESOURCE_EXHAUSTED",
       "30000x30000"},
      {"over the photo size limit", "", std::string(kMaxBodyBytes + 10, 'x'), "image/jpeg", 413,
       "RESOURCE_EXHAUSTED", "over the limit"},
      {"over the body size limit", "", std::string(kMaxBodyBytes + (2 << 20), 'x'), "image/jpeg",
       413, "RESOURCE_EXHAUSTED", "request body over the limit"},
      {"wrong dimension", "", VectorBody({1, 0, 0}, kModel), "application/json", 400,
       "INVALID_ARGUMENT", "has dimension 1280"},
      {"NaN", "", R"({"vector":[NaN,1],"model":"m"})", "application/json", 400, "INVALID_ARGUMENT",
       "not valid JSON"},
      {"beyond float", "", inf_vector, "application/json", 400, "INVALID_ARGUMENT",
       "vector[0] is 1e+39, out of range of a 32-bit float"},
      {"beyond double", "", overflow_vector, "application/json", 400, "INVALID_ARGUMENT",
       "vector[1279] is 1e309, out of range"},
      {"k beyond double", "", R"({"vector":[1],"model":"m","k":-1e400})", "application/json", 400,
       "INVALID_ARGUMENT", "k is -1e400, out of range"},
      {"all zeros", "", VectorBody(zeros, kModel), "application/json", 400, "INVALID_ARGUMENT",
       "all zeros"},
      {"strings in vector", "", R"({"vector":[1,"a"],"model":"m"})", "application/json", 400,
       "INVALID_ARGUMENT", "vector[1] is string, not a number"},
      {"model id too long", "", VectorBody(nine, std::string(300, 'm')), "application/json", 400,
       "INVALID_ARGUMENT", "\"model\" is over 256 bytes"},
      {"no model", "", json{{"vector", nine}}.dump(), "application/json", 400, "INVALID_ARGUMENT",
       "must name its model"},
      {"wrong model", "", VectorBody(nine, "resnet50@3"), "application/json", 400,
       "INVALID_ARGUMENT", "'resnet50@3'"},
      {"json without vector", "", R"({"k":3})", "application/json", 400, "INVALID_ARGUMENT",
       "vector"},
      {"k = 0", "?k=0", *jpeg_, "image/jpeg", 400, "INVALID_ARGUMENT", "k must be"},
      {"k = 1001", "?k=1001", *jpeg_, "image/jpeg", 400, "INVALID_ARGUMENT", "between 1 and 1000"},
      {"k = abc", "?k=abc", *jpeg_, "image/jpeg", 400, "INVALID_ARGUMENT", "k must be"},
      {"k too large in JSON", "", VectorBody(nine, kModel, 5000), "application/json", 400,
       "INVALID_ARGUMENT", "\"k\" must be an integer between 1 and 1000, got 5000"},
      {"ef = -1", "?ef=-1", *jpeg_, "image/jpeg", 400, "INVALID_ARGUMENT", "ef must be"},
      {"unsupported type", "", "hello", "text/plain", 415, "UNSUPPORTED_MEDIA_TYPE", "text/plain"},
  };
  HttpClient client(port_);
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    HttpReply reply = client.Post("/v1/search" + c.query, c.body, c.type);
    EXPECT_EQ(reply.status, c.status) << reply.body;
    json j = json::parse(reply.body, nullptr, false);
    ASSERT_FALSE(j.is_discarded()) << reply.body;
    EXPECT_EQ(j["error"]["code"], c.code);
    EXPECT_THAT(j["error"]["message"].get<std::string>(), HasSubstr(c.message));
    ExpectValidSearchWorks();
  }
  HttpReply no_field = client.PostFile("/v1/search", "photo", *jpeg_, "image/jpeg");
  EXPECT_EQ(no_field.status, 400);
  EXPECT_THAT(no_field.body, HasSubstr("\\\"image\\\""));
  HttpReply no_route = client.Get("/v1/nothing");
  EXPECT_EQ(no_route.status, 404);
  EXPECT_EQ(json::parse(no_route.body)["error"]["code"], "NOT_FOUND");
  for (const char* path : {"/photos/../../etc/passwd", "/photos/%2e%2e/%2e%2e/etc/passwd",
                           "/photos/missing.jpg", "/photos//etc/passwd"}) {
    HttpReply reply = client.Get(path);
    EXPECT_EQ(reply.status, 404) << path;
    EXPECT_THAT(reply.body, ::testing::Not(HasSubstr("root:")));
  }
  ExpectValidSearchWorks();
}

// Regression: after a corrupt JPEG, valid JPEGs were refused ("corrupt JPEG
// (header): Bogus Huffman table definition"); 209 of 300 in the issue's run.
TEST_F(HttpApiTest, CorruptPhotosDoNotPoisonLaterQueries) {
  HttpClient client(port_);
  HttpReply baseline = SearchJpeg("?k=5");
  ASSERT_EQ(baseline.status, 200) << baseline.body;
  const json expected = json::parse(baseline.body)["results"];
  uint32_t state = 12345;
  int refused = 0;
  for (int i = 0; i < 100; ++i) {
    std::string corrupt = *jpeg_;
    for (int f = 0; f < 1 + i % 4; ++f) {  // flips in the headers: tables, frame, scan
      state = state * 1664525u + 1013904223u;
      corrupt[2 + (state >> 8) % 600] ^= static_cast<char>(1 << (state % 8));
    }
    HttpReply bad = client.Post("/v1/search?k=5", corrupt, "image/jpeg");
    ASSERT_TRUE(bad.status == 200 || bad.status == 400) << bad.status << " " << bad.body;
    refused += bad.status == 400;
    HttpReply good = SearchJpeg("?k=5");
    ASSERT_EQ(good.status, 200) << "valid JPEG after corrupt " << i << ": " << good.body;
    ASSERT_EQ(json::parse(good.body)["results"], expected) << "after corrupt " << i;
  }
  EXPECT_GE(refused, 30);  // the corruptions were real (38 of this seed fail to decode)
}

TEST_F(HttpApiTest, OperationalEndpoints) {
  HttpClient client(port_);
  EXPECT_EQ(client.Get("/healthz").status, 200);
  EXPECT_EQ(client.Get("/readyz").status, 200);
  HttpReply shards = client.Get("/v1/shards");
  ASSERT_EQ(shards.status, 200);
  json j = json::parse(shards.body);
  EXPECT_EQ(j["model"], kModel);
  int64_t photos = std::distance(fs::directory_iterator(Photos()), fs::directory_iterator());
  EXPECT_EQ(j["items"].get<int64_t>(), photos);
  EXPECT_EQ(j["shards"][0]["index"], "faiss:Flat");

  HttpReply photo = client.Get("/photos/Kiwi_001.jpg");
  EXPECT_EQ(photo.status, 200);
  EXPECT_EQ(photo.body, *jpeg_);
  EXPECT_EQ(photo.content_type, "image/jpeg");
  HttpReply page = client.Get("/");
  EXPECT_EQ(page.status, 200);
  EXPECT_THAT(page.body, HasSubstr("<title>photosearch</title>"));
  EXPECT_EQ(client.Get("/app.js").status, 200);

  SearchJpeg();
  client.Post("/v1/search?k=0", *jpeg_, "image/jpeg");
  HttpReply metrics = client.Get("/metrics");
  ASSERT_EQ(metrics.status, 200);
  EXPECT_THAT(metrics.body,
              HasSubstr("photosearch_http_requests_total{route=\"/v1/search\",code=\"200\"}"));
  EXPECT_THAT(metrics.body,
              HasSubstr("photosearch_http_requests_total{route=\"/v1/search\",code=\"400\"}"));
  EXPECT_THAT(metrics.body,
              HasSubstr("photosearch_stage_duration_seconds_bucket{stage=\"embed\",le=\"+Inf\"}"));
  EXPECT_THAT(metrics.body,
              HasSubstr("photosearch_stage_duration_seconds_count{stage=\"decode\"}"));
  EXPECT_THAT(metrics.body,
              HasSubstr("photosearch_http_request_duration_seconds_bucket{route=\"/v1/search\""));
  // Prometheus' own checker (Debian's prometheus, installed by scripts/setup)
  // accepts the exposition.
  ASSERT_TRUE(fs::exists("/usr/bin/promtool")) << "run scripts/setup: it installs prometheus";
  testing::ScratchDir dir;
  ASSERT_TRUE(WriteFileAtomic(dir / "metrics.txt", metrics.body).ok());
  std::string output;
  int code = testing::RunCommand(
      {"/bin/sh", "-c", "/usr/bin/promtool check metrics < " + (dir / "metrics.txt")}, &output);
  EXPECT_EQ(code, 0) << output;
}

TEST_F(HttpApiTest, ANewVersionIsServedWithoutRestart) {
  // Publish a second version holding one more photo; the server polls every second.
  testing::ScratchDir more;
  for (const auto& entry : fs::directory_iterator(Photos())) {
    fs::copy_file(entry.path(), more / entry.path().filename().string());
  }
  fs::copy_file(testing::AssetsDir() + "/photos/scenes/coffee.jpg", more / "coffee.jpg");
  std::string output;
  ASSERT_EQ(testing::RunCommand({testing::PhotosearchBin(), "index", "--photos", more.path(),
                                 "--repo", repo_->path()},
                                &output),
            0)
      << output;
  HttpClient client(port_);
  auto coffee = ReadFile(testing::AssetsDir() + "/photos/scenes/coffee.jpg");
  std::string top;
  for (int i = 0; i < 100 && top != "coffee.jpg"; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    HttpReply reply = client.Post("/v1/search?k=1", *coffee, "image/jpeg");
    ASSERT_EQ(reply.status, 200);
    top = json::parse(reply.body)["results"][0]["item_id"];
  }
  EXPECT_EQ(top, "coffee.jpg");
  EXPECT_EQ(json::parse(client.Get("/v1/shards").body)["shards"][0]["version"], 2);
}

TEST_F(HttpApiTest, ConcurrentClientsAreServed) {
  std::vector<std::thread> clients;
  std::atomic<int> ok{0};
  for (int c = 0; c < 8; ++c) {
    clients.emplace_back([&] {
      HttpClient client(port_);
      for (int i = 0; i < 10; ++i)
        ok += client.Post("/v1/search?k=5", *jpeg_, "image/jpeg").status == 200;
    });
  }
  for (auto& t : clients) t.join();
  EXPECT_EQ(ok.load(), 80);
  // Concurrent requests were batched: some forward passes held more than one photo.
  std::string metrics = HttpClient(port_).Get("/metrics").body;
  size_t at = metrics.find("photosearch_embed_batch_size_bucket{le=\"1\"} ");
  ASSERT_NE(at, std::string::npos);
  int64_t batch_of_one = std::stoll(metrics.substr(at + 45));
  size_t count_at = metrics.find("photosearch_embed_batch_size_count ");
  int64_t batches = std::stoll(metrics.substr(count_at + 35));
  EXPECT_LT(batch_of_one, batches);
}

TEST(HttpServe, StopsCleanlyOnSigterm) {
  testing::ScratchDir repo;
  int port = 0;
  auto server = testing::StartServe({"--repo", repo.path()}, &port);
  ASSERT_GT(port, 0);
  HttpClient client(port);
  EXPECT_EQ(client.Get("/readyz").status, 503);  // nothing indexed yet
  HttpReply search = client.Post("/v1/search", "x", "image/jpeg");
  EXPECT_EQ(search.status, 400);  // bad input is still 400 ...
  std::string jpeg = *ReadFile(Photos() + "/Kiwi_001.jpg");
  EXPECT_EQ(client.Post("/v1/search", jpeg, "image/jpeg").status, 503);  // ... a good query 503
  int status = server->Stop(SIGTERM, std::chrono::seconds(10));
  ASSERT_NE(status, -1);
  EXPECT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
}

}  // namespace
}  // namespace photosearch
