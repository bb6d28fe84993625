// The photosearch CLI end to end: index a folder with good and bad files,
// search it, and every user error gives a non-zero exit and one readable line.
#include <algorithm>
#include <filesystem>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>

#include "base/files.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "support/test_env.h"

namespace photosearch {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using testing::PhotosearchBin;
using testing::RunCommand;

const std::string kApples = "/photos/grocery_store/test/Fruit/Apple/Golden-Delicious";

// Lines of `output` that start with `prefix`.
int CountLines(const std::string& output, const std::string& prefix) {
  int n = 0;
  size_t pos = 0;
  while ((pos = output.find(prefix, pos)) != std::string::npos) {
    if (pos == 0 || output[pos - 1] == '\n') ++n;
    pos += prefix.size();
  }
  return n;
}

class CliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // 8 JPEGs in two folders, one PNG, one WebP, and the bad ones.
    std::string src = testing::AssetsDir() + kApples;
    for (int i = 1; i <= 8; ++i) {
      char name[64];
      std::snprintf(name, sizeof(name), "Golden-Delicious_%03d.jpg", i);
      fs::create_directories(photos_ / (i <= 4 ? "a" : "b/c"));
      fs::copy_file(src + "/" + name, photos_ / ((i <= 4 ? "a/" : "b/c/") + std::string(name)));
    }
    cv::Mat img = cv::imread(src + "/Golden-Delicious_009.jpg");
    ASSERT_FALSE(img.empty());
    ASSERT_TRUE(cv::imwrite(photos_ / "nine.png", img));
    ASSERT_TRUE(cv::imwrite(photos_ / "ten.WEBP", cv::imread(src + "/Golden-Delicious_010.jpg")));
    auto jpeg = ReadFile(src + "/Golden-Delicious_011.jpg");
    ASSERT_TRUE(WriteFileAtomic(photos_ / "broken.jpg", jpeg->substr(0, jpeg->size() / 3)).ok());
    ASSERT_TRUE(WriteFileAtomic(photos_ / "fake.jpg", "this is a text file").ok());
    ASSERT_TRUE(WriteFileAtomic(photos_ / "README.txt", "notes").ok());
    ASSERT_TRUE(WriteFileAtomic(photos_ / ".hidden.jpg", *jpeg).ok());
  }

  std::string Run(std::vector<std::string> args, int* code) {
    args.insert(args.begin(), PhotosearchBin());
    std::string output;
    *code = RunCommand(args, &output);
    return output;
  }

  testing::ScratchDir photos_;
  testing::ScratchDir repo_;
};

TEST_F(CliTest, IndexSkipsBadFilesThenSearchFindsThePhoto) {
  int code = -1;
  std::string out = Run({"index", "--photos", photos_.path(), "--repo", repo_.path()}, &code);
  ASSERT_EQ(code, 0) << out;
  EXPECT_THAT(out, HasSubstr("indexed 10 photos (2 skipped, 1 other files ignored)"));
  EXPECT_THAT(out, HasSubstr("skipped broken.jpg: truncated JPEG"));
  EXPECT_THAT(out, HasSubstr("skipped fake.jpg: not an image"));
  EXPECT_THAT(out, HasSubstr("published shard all version 1 (faiss:Flat"));
  EXPECT_THAT(out, HasSubstr("indexing: 12/12 photos (100%)"));  // progress
  EXPECT_THAT(out, ::testing::Not(HasSubstr(".hidden")));

  std::string query = testing::AssetsDir() + kApples + "/Golden-Delicious_005.jpg";
  out = Run({"search", "--repo", repo_.path(), "--k", "3", query}, &code);
  ASSERT_EQ(code, 0) << out;
  EXPECT_THAT(out,
              HasSubstr("rank  score    item_id\n1     1.0000   b/c/Golden-Delicious_005.jpg\n"));
  EXPECT_EQ(CountLines(out, "2 "), 1);
  EXPECT_EQ(CountLines(out, "4 "), 0);

  out = Run({"search", "--repo", repo_.path(), "--json", "-k", "2", query}, &code);
  ASSERT_EQ(code, 0) << out;
  auto j = nlohmann::json::parse(out.substr(out.find('{'), out.rfind('}') - out.find('{') + 1));
  ASSERT_EQ(j["results"].size(), 2u);
  EXPECT_EQ(j["results"][0]["item_id"], "b/c/Golden-Delicious_005.jpg");
  EXPECT_EQ(j["model"], "mobilenetv2-gap1280-fp32@1");
  EXPECT_TRUE(j["took_ms"].contains("embed"));

  // The PNG and the WebP are searchable too, and a re-index publishes version 2.
  out = Run({"search", "--repo", repo_.path(), "-k", "1", photos_ / "ten.WEBP"}, &code);
  EXPECT_THAT(out, HasSubstr("ten.WEBP"));
  // A file:// URL names the same repository (it said "does not exist" before).
  out = Run({"search", "--repo", "file://" + repo_.path(), "-k", "1", photos_ / "ten.WEBP"}, &code);
  EXPECT_EQ(code, 0) << out;
  EXPECT_THAT(out, HasSubstr("ten.WEBP"));
  out =
      Run({"index", "--photos", photos_.path(), "--repo", repo_.path(), "--index", "hnsw"}, &code);
  ASSERT_EQ(code, 0) << out;
  EXPECT_THAT(out, HasSubstr("version 2 (hnsw:M=16"));
  out = Run({"search", "--repo", repo_.path(), "-k", "1", photos_ / "nine.png"}, &code);
  EXPECT_THAT(out, HasSubstr("nine.png"));
}

// Regression: with one decode thread, 3 corrupt JPEGs that sort first made all
// 23 photos fail ("none of the 23 photos could be decoded"): a failed header
// read poisoned the thread's JPEG decoder for every later photo.
TEST(CliIndexTest, CorruptPhotosFirstDoNotCostTheValidOnes) {
  testing::ScratchDir photos, repo;
  const std::string src = testing::AssetsDir() + "/photos/grocery_store/test/Fruit/Kiwi";
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(src)) names.push_back(entry.path().filename());
  std::sort(names.begin(), names.end());
  ASSERT_GE(names.size(), 20u);
  names.resize(20);
  for (const std::string& name : names) fs::copy_file(src + "/" + name, photos / ("k_" + name));
  // Three that sort first: bit flips in the Huffman tables, in the frame
  // header, and a file cut inside its Huffman tables.
  std::string good = *ReadFile(src + "/" + names[0]);
  std::string dht = good, sof = good;
  size_t at = dht.find("\xFF\xC4");
  ASSERT_NE(at, std::string::npos);
  dht[at + 5] = static_cast<char>(0xFF), dht[at + 6] = static_cast<char>(0xFF);
  at = sof.find("\xFF\xC0");
  ASSERT_NE(at, std::string::npos);
  sof[at + 9] = 7;  // 7 components
  ASSERT_TRUE(WriteFileAtomic(photos / "a_huffman.jpg", dht).ok());
  ASSERT_TRUE(WriteFileAtomic(photos / "a_frame.jpg", sof).ok());
  ASSERT_TRUE(
      WriteFileAtomic(photos / "a_cut.jpg", good.substr(0, good.find("\xFF\xC4") + 9)).ok());

  std::string output;
  int code = RunCommand({PhotosearchBin(), "index", "--photos", photos.path(), "--repo",
                         repo.path(), "--decode-threads", "1"},
                        &output);
  ASSERT_EQ(code, 0) << output;
  EXPECT_THAT(output, HasSubstr("indexed 20 photos (3 skipped"));
  EXPECT_THAT(output, HasSubstr("skipped a_huffman.jpg: corrupt JPEG"));
  EXPECT_THAT(output, HasSubstr("skipped a_frame.jpg: corrupt JPEG"));
  EXPECT_THAT(output, HasSubstr("skipped a_cut.jpg: corrupt JPEG"));
  // Every valid photo is in the index: each finds itself first.
  for (int i : {0, 9, 19}) {
    code = RunCommand(
        {PhotosearchBin(), "search", "--repo", repo.path(), "--k", "1", photos / ("k_" + names[i])},
        &output);
    ASSERT_EQ(code, 0) << output;
    EXPECT_THAT(output, HasSubstr("k_" + names[i])) << output;
  }
}

TEST_F(CliTest, ACorruptShardIsRefusedWithAClearError) {
  int code = -1;
  Run({"index", "--photos", photos_.path(), "--repo", repo_.path()}, &code);
  ASSERT_EQ(code, 0);
  std::string ids = repo_ / "shards/mobilenetv2-gap1280-fp32@1/all/part-0-of-1/1/ids.bin";
  auto bytes = ReadFile(ids);
  std::string flipped = *bytes;
  flipped[flipped.size() - 1] ^= 1;
  ASSERT_TRUE(WriteFileAtomic(ids, flipped).ok());
  std::string out = Run({"search", "--repo", repo_.path(), photos_ / "nine.png"}, &code);
  EXPECT_EQ(code, 1);
  EXPECT_THAT(
      out,
      HasSubstr("photosearch search: refused shards/mobilenetv2-gap1280-fp32@1/all/part-0-of-1/1"));
  EXPECT_THAT(out, HasSubstr("is corrupt: ids.bin"));
}

TEST_F(CliTest, ArtifactsListShowVerifyAndGc) {
  int code = -1;
  for (int i = 0; i < 3; ++i) {
    Run({"index", "--photos", photos_.path(), "--repo", repo_.path()}, &code);
    ASSERT_EQ(code, 0);
  }
  const std::string artifact = "shards/mobilenetv2-gap1280-fp32@1/all/part-0-of-1/";
  std::string out = Run({"artifacts", "list", "--repo", repo_.path()}, &code);
  EXPECT_EQ(code, 0);
  EXPECT_THAT(out, HasSubstr(artifact + "  3 versions (newest 3: 10 items, faiss:Flat"));

  out = Run({"artifacts", "show", "--repo", repo_.path(), artifact + "2"}, &code);
  EXPECT_EQ(code, 0);
  EXPECT_THAT(out, HasSubstr("\"version\": 2"));
  EXPECT_THAT(out, HasSubstr("ids.bin"));

  out = Run({"artifacts", "verify", "--repo", repo_.path()}, &code);
  EXPECT_EQ(code, 0) << out;
  EXPECT_THAT(out, HasSubstr("3 versions checked, 0 corrupt"));
  std::string ids = repo_ / (artifact + "2/ids.bin");
  ASSERT_TRUE(WriteFileAtomic(ids, "garbage").ok());
  out = Run({"artifacts", "verify", "--repo", repo_.path()}, &code);
  EXPECT_EQ(code, 1);
  EXPECT_THAT(out, HasSubstr(artifact + "2  artifact"));
  EXPECT_THAT(out, HasSubstr("is corrupt: ids.bin"));
  EXPECT_THAT(out, HasSubstr("3 versions checked, 1 corrupt"));

  out = Run({"artifacts", "gc", "--repo", repo_.path(), "--keep", "1", "--dry-run"}, &code);
  EXPECT_THAT(out, HasSubstr("would remove 2 versions"));
  EXPECT_THAT(Run({"artifacts", "list", "--repo", repo_.path()}, &code), HasSubstr("3 versions"));
  out = Run({"artifacts", "gc", "--repo", repo_.path(), "--keep", "1"}, &code);
  EXPECT_EQ(code, 0);
  EXPECT_THAT(out, HasSubstr("removed " + artifact + "1"));
  EXPECT_THAT(out, HasSubstr("removed " + artifact + "2"));
  EXPECT_THAT(Run({"artifacts", "list", "--repo", repo_.path()}, &code),
              HasSubstr("1 version (newest 3"));
  out = Run({"search", "--repo", repo_.path(), "-k", "1", photos_ / "nine.png"}, &code);
  EXPECT_EQ(code, 0) << out;

  // Bad input: one line, non-zero.
  out = Run({"artifacts", "show", "--repo", repo_.path(), "shards/nope"}, &code);
  EXPECT_EQ(code, 1);
  EXPECT_THAT(out, HasSubstr("is not an artifact"));
  out = Run({"artifacts", "show", "--repo", repo_.path(), artifact + "9"}, &code);
  EXPECT_EQ(code, 1);
  EXPECT_THAT(out, HasSubstr("no published"));
  out = Run({"artifacts", "gc", "--repo", repo_.path(), "--keep", "0"}, &code);
  EXPECT_EQ(code, 2);
}

TEST_F(CliTest, UserErrorsGiveOneLineAndNonZeroExit) {
  struct Case {
    std::vector<std::string> args;
    int code;
    std::string message;
  };
  testing::ScratchDir empty;
  std::vector<Case> cases = {
      {{"search", "--repo", repo_ / "nope", photos_ / "nine.png"}, 1, "does not exist"},
      {{"search", "--repo", repo_.path(), photos_ / "nine.png"}, 1, "no shard of model"},
      {{"search", "--repo", repo_.path(), photos_ / "fake.jpg"}, 1, "not an image"},
      {{"search", "--repo", repo_.path(), photos_ / "missing.jpg"}, 2, "File does not exist"},
      {{"index", "--photos", empty.path(), "--repo", repo_.path()},
       1,
       "no JPEG, PNG or WebP files"},
      {{"index", "--photos", photos_.path(), "--repo", repo_.path(), "--index", "annoy"},
       1,
       "kind must be faiss or hnsw"},
      {{"index", "--photos", photos_.path(), "--repo", repo_.path(), "--model", "/nope.json"},
       1,
       "model manifest"},
      {{"index", "--photos", photos_.path(), "--repo", "gs://bucket/x"}, 1, "unsupported scheme"},
      {{"index", "--photos", photos_.path(), "--repo", "s3://bucket/x"}, 1, "S3 needs credentials"},
      {{"search", "--repo", repo_.path(), "--k", "0", photos_ / "nine.png"}, 2, "not in range"},
      {{"frobnicate"}, 2, "frobnicate"},
  };
  unsetenv("AWS_ACCESS_KEY_ID");  // the s3:// case must not reach a real service
  for (const Case& c : cases) {
    int code = -1;
    std::string out = Run(c.args, &code);
    SCOPED_TRACE(out);
    EXPECT_EQ(code, c.code);
    EXPECT_THAT(out, HasSubstr(c.message));
  }
  // Errors, and usage errors too, are exactly one line.
  for (std::vector<std::string> args :
       {std::vector<std::string>{"search", "--repo", repo_ / "nope", photos_ / "nine.png"},
        std::vector<std::string>{"search", "--repo", repo_.path(), "--k", "x",
                                 photos_ / "nine.png"},
        std::vector<std::string>{"index", "--repo", repo_.path()}}) {
    int code = -1;
    std::string out = Run(args, &code);
    EXPECT_NE(code, 0);
    EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), 1) << out;
    EXPECT_EQ(out.rfind("photosearch", 0), 0u) << out;
  }
}

TEST(CliDetectTest, PrintsBoxesOrJsonAndRefusesWhatIsNotAPhoto) {
  auto run = [](std::vector<std::string> args, int* code) {
    args.insert(args.begin(), {PhotosearchBin(), "detect"});
    std::string output;
    *code = RunCommand(args, &output);
    return output;
  };
  const std::string scenes = testing::AssetsDir() + "/photos/scenes/";
  int code = -1;
  std::string out = run({scenes + "astronaut.jpg"}, &code);
  ASSERT_EQ(code, 0) << out;
  EXPECT_THAT(out, HasSubstr("class          score       x0      y0      x1      y1\nperson"));
  EXPECT_THAT(out, HasSubstr("object(s) in 512x512; model yolox-nano-coco80@1 (torchscript)"));

  out = run({"--json", "--runtime", "opencv", scenes + "coffee.jpg"}, &code);
  ASSERT_EQ(code, 0) << out;
  auto j = nlohmann::json::parse(out.substr(out.find('{'), out.rfind('}') - out.find('{') + 1));
  EXPECT_EQ(j["runtime"], "opencv-dnn");
  ASSERT_FALSE(j["detections"].empty());
  EXPECT_EQ(j["detections"][0]["class"], "cup");
  for (const auto& d : j["detections"]) {
    ASSERT_EQ(d["box"].size(), 4u);
    EXPECT_GE(d["box"][0].get<double>(), 0);
    EXPECT_LE(d["box"][2].get<double>(), j["width"].get<double>());
    EXPECT_LE(d["box"][3].get<double>(), j["height"].get<double>());
  }

  out = run({scenes + "rocket.jpg"}, &code);
  EXPECT_EQ(code, 0) << out;
  EXPECT_THAT(out, HasSubstr("0 object(s)"));

  // User errors: one line, non-zero exit.
  testing::ScratchDir dir;
  ASSERT_TRUE(WriteFileAtomic(dir / "notes.jpg", "not a photo").ok());
  struct Case {
    std::vector<std::string> args;
    int code;
    std::string message;
  };
  for (const Case& c : std::vector<Case>{
           {{dir / "missing.jpg"}, 2, "File does not exist"},
           {{dir / "notes.jpg"}, 1, "photosearch detect: " + dir / "notes.jpg: not an image"},
           {{"--runtime", "tflite", scenes + "rocket.jpg"}, 2, "tflite"},
           {{"--model", dir / "nope.json", scenes + "rocket.jpg"}, 1, "detector manifest"}}) {
    out = run(c.args, &code);
    SCOPED_TRACE(out);
    EXPECT_EQ(code, c.code);
    EXPECT_THAT(out, HasSubstr(c.message));
    EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), 1);
  }
}

}  // namespace
}  // namespace photosearch
