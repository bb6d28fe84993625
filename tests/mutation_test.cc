// Hostile and careless clients against a real `photosearch serve`: 1,000
// mutated photos (bit flips, truncations, spliced bytes, wrong Content-Type)
// and malformed JSON and multipart bodies, with detect=whole|primary|all.
// Every answer must be a 2xx/4xx (no 5xx, no dropped connection), none slower
// than 5 s, the valid photos sent in between must answer exactly what they
// answered on the fresh server, and the server's memory must come back near
// where it started. Deterministic (a fixed seed); inputs that fail are written
// to $TEST_OUTPUT_DIR or the working directory for replay.
#include <chrono>
#include <fstream>
#include <random>
#include <thread>

#include "absl/strings/str_cat.h"
#include "base/files.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "image/decode.h"
#include "nlohmann/json.hpp"
#include "support/http_client.h"
#include "support/test_env.h"

namespace photosearch {
namespace {

using nlohmann::json;
using testing::HttpClient;
using testing::HttpReply;

constexpr char kModel[] = "mobilenetv2-gap1280-fp32@1";
constexpr int kMutations = 1000;
constexpr int kValidEvery = 25;  // a valid photo after every 25 mutations
constexpr double kMaxSeconds = 5.0;
const char* const kDetect[] = {"whole", "primary", "all"};

// Resident memory of `pid` in MiB, from /proc.
double RssMiB(pid_t pid) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stod(line.substr(6)) / 1024.0;
  }
  return -1;
}

struct Photo {
  std::string name, bytes, type;
};

// What a search answered, without timings: results and detected objects.
json Essence(const std::string& body) {
  json j = json::parse(body, nullptr, false);
  if (j.is_discarded()) return json("not JSON: " + body.substr(0, 200));
  j.erase("took_ms");
  return j;
}

// Scores equal within float noise; everything else exactly.
bool SameAnswer(const json& a, const json& b) {
  if (a.type() != b.type()) return false;
  if (a.is_number_float() || b.is_number_float()) {
    return a.is_number() && b.is_number() && std::abs(a.get<double>() - b.get<double>()) < 1e-4;
  }
  if (a.is_object()) {
    if (a.size() != b.size()) return false;
    for (auto it = a.begin(); it != a.end(); ++it) {
      if (!b.contains(it.key()) || !SameAnswer(it.value(), b.at(it.key()))) return false;
    }
    return true;
  }
  if (a.is_array()) {
    if (a.size() != b.size()) return false;
    for (size_t i = 0; i < a.size(); ++i) {
      if (!SameAnswer(a[i], b[i])) return false;
    }
    return true;
  }
  return a == b;
}

class Mutator {
 public:
  explicit Mutator(uint32_t seed) : rng_(seed) {}
  size_t Below(size_t n) {
    return n == 0 ? 0 : std::uniform_int_distribution<size_t>(0, n - 1)(rng_);
  }

  // A broken copy of `bytes`; `other` is spliced in by some mutations.
  std::string Mutate(const std::string& bytes, const std::string& other, std::string* kind) {
    std::string b = bytes;
    switch (Below(7)) {
      case 0: {  // bit flips in the headers
        *kind = "header bit flips";
        size_t span = std::min<size_t>(b.size(), 1024);
        for (size_t i = 0, n = 1 + Below(6); i < n; ++i) b[Below(span)] ^= char(1 << Below(8));
        break;
      }
      case 1:  // bit flips anywhere
        *kind = "bit flips";
        for (size_t i = 0, n = 1 + Below(32); i < n; ++i) b[Below(b.size())] ^= char(1 << Below(8));
        break;
      case 2:  // truncation
        *kind = "truncated";
        b.resize(Below(b.size()));
        break;
      case 3: {  // one photo's start spliced onto another's end
        *kind = "spliced";
        size_t cut = Below(b.size()), from = Below(other.size());
        b = b.substr(0, cut) + other.substr(from);
        break;
      }
      case 4: {  // random bytes overwritten
        *kind = "overwritten run";
        size_t at = Below(b.size()), n = std::min(b.size() - at, 1 + Below(256));
        for (size_t i = 0; i < n; ++i) b[at + i] = char(Below(256));
        break;
      }
      case 5: {  // a region repeated or removed
        *kind = "repeated or cut region";
        size_t at = Below(b.size()), n = std::min(b.size() - at, 1 + Below(2048));
        if (Below(2)) {
          b.insert(at, b.substr(at, n));
        } else {
          b.erase(at, n);
        }
        break;
      }
      default: {  // a marker-like byte pair inserted
        *kind = "inserted markers";
        for (size_t i = 0, n = 1 + Below(4); i < n; ++i) {
          const char marker[2] = {char(0xFF), char(0xC0 + Below(0x3F))};
          b.insert(Below(b.size() + 1), marker, 2);
        }
      }
    }
    return b;
  }

  std::string JsonBody(std::string* kind) {
    std::vector<double> v(1280);
    for (double& x : v) x = std::uniform_real_distribution<double>(-1, 1)(rng_);
    std::string body = json{{"vector", v}, {"model", kModel}, {"k", 5}}.dump();
    switch (Below(6)) {
      case 0:
        *kind = "json truncated";
        body.resize(Below(body.size()));
        break;
      case 1:
        *kind = "json out-of-range number";
        body.replace(body.find('[') + 1, 0, Below(2) ? "1e309," : "-1e39,");
        break;
      case 2:
        *kind = "json wrong types";
        body = Below(2) ? R"({"vector":"abc","model":5,"k":[1]})" : R"({"vector":[null,true,{}]})";
        break;
      case 3: {
        *kind = "json deep nesting";
        const size_t depth = 10000 + Below(1000000);
        if (Below(2)) {
          body = std::string(depth, '[') + "1";
        } else {  // well-formed, in a field that is refused (and once was quoted)
          body = R"({"vector":[1],"model":"m","k":)" + std::string(depth, '[') +
                 std::string(depth, ']') + "}";
        }
        break;
      }
      case 4: {
        *kind = "json bytes flipped";
        for (size_t i = 0, n = 1 + Below(8); i < n; ++i)
          body[Below(body.size())] ^= char(1 << Below(8));
        break;
      }
      default:
        *kind = "json wrong dimension";
        body =
            json{{"vector", std::vector<double>(1 + Below(3000), 0.5)}, {"model", kModel}}.dump();
    }
    return body;
  }

  // A multipart body around `photo`, sometimes with broken framing.
  std::string Multipart(const std::string& photo, std::string* kind, std::string* type) {
    const std::string boundary = "----mutation" + std::to_string(Below(1000000));
    std::string body = "--" + boundary +
                       "\r\nContent-Disposition: form-data; name=\"image\"; filename=\"p.jpg\"\r\n"
                       "Content-Type: image/jpeg\r\n\r\n" +
                       photo + "\r\n--" + boundary + "--\r\n";
    *type = "multipart/form-data; boundary=" + boundary;
    switch (Below(5)) {
      case 0:
        *kind = "multipart around a mutated photo";
        break;
      case 1:
        *kind = "multipart truncated";
        body.resize(Below(body.size()));
        break;
      case 2:
        *kind = "multipart wrong boundary";
        *type = "multipart/form-data; boundary=other";
        break;
      case 3:
        *kind = "multipart no field named image";
        body.replace(body.find("name=\"image\""), 12, "name=\"photo\"");
        break;
      default:
        *kind = "multipart header bytes flipped";
        for (size_t i = 0, n = 1 + Below(6); i < n; ++i) {
          body[Below(std::min<size_t>(body.size(), 200))] ^= char(1 << Below(8));
        }
    }
    return body;
  }

 private:
  std::mt19937 rng_;
};

TEST(MutationTest, HostileInputNeverHurtsTheServerOrLaterQueries) {
  const std::string grocery = testing::AssetsDir() + "/photos/grocery_store/test/Fruit";
  testing::ScratchDir repo;
  std::string output;
  ASSERT_EQ(testing::RunCommand({testing::PhotosearchBin(), "index", "--photos", grocery + "/Kiwi",
                                 "--repo", repo.path()},
                                &output),
            0)
      << output;
  int port = -1;
  auto server = testing::StartServe({"--repo", repo.path()}, &port);
  ASSERT_GT(port, 0) << "serve did not start";
  HttpClient client(port);

  // The valid photos, in every format, and what the fresh server answers.
  std::vector<Photo> photos;
  for (const char* name :
       {"/Kiwi/Kiwi_001.jpg", "/Banana/Banana_003.jpg", "/Pear/Anjou/Anjou_002.jpg"}) {
    auto bytes = ReadFile(grocery + name);
    ASSERT_TRUE(bytes.ok()) << bytes.status();
    photos.push_back({name, *bytes, "image/jpeg"});
  }
  photos.push_back(
      {"coffee.jpg", *ReadFile(testing::AssetsDir() + "/photos/scenes/coffee.jpg"), "image/jpeg"});
  // A 2 x 19999 strip: a 6 KB JPEG that once took 10 s and 2 GB to preprocess.
  Image strip;
  strip.width = 19999;
  strip.height = 2;
  strip.rgb.resize(size_t{19999} * 2 * 3);
  for (size_t i = 0; i < strip.rgb.size(); ++i) strip.rgb[i] = static_cast<uint8_t>(i * 13 % 256);
  photos.push_back({"strip.jpg", *EncodeJpeg(strip, 90), "image/jpeg"});
  // A first pass warms the server up (the first forward passes of a fresh
  // TorchScript module are slow); the answers of the second are the reference.
  for (const Photo& photo : photos) {
    for (const char* detect : kDetect) {
      client.Post(absl::StrCat("/v1/search?k=5&detect=", detect), photo.bytes, photo.type);
    }
  }
  std::map<std::string, json> fresh;
  // A valid photo's answer, which must come within kMaxSeconds too.
  auto ask = [&](const Photo& photo, const char* detect) {
    const auto start = std::chrono::steady_clock::now();
    HttpReply reply =
        client.Post(absl::StrCat("/v1/search?k=5&detect=", detect), photo.bytes, photo.type);
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    EXPECT_LT(seconds, kMaxSeconds) << photo.name << " detect=" << detect;
    return reply;
  };
  for (const Photo& photo : photos) {
    for (const char* detect : kDetect) {
      HttpReply reply = ask(photo, detect);
      ASSERT_EQ(reply.status, 200) << photo.name << " " << detect << ": " << reply.body;
      fresh[photo.name + detect] = Essence(reply.body);
    }
  }
  const double rss_start = RssMiB(server->pid());

  Mutator mutator(20261130);
  std::map<std::string, int> statuses, kinds;
  int checked = 0;
  double slowest = 0;
  std::string slowest_kind;
  auto save_failure = [&](int i, const std::string& body) {
    const char* dir = std::getenv("TEST_OUTPUT_DIR");
    std::string path = absl::StrCat(dir ? dir : ".", "/mutation_failure_", i, ".bin");
    std::ofstream(path, std::ios::binary) << body;
    return path;
  };
  for (int i = 0; i < kMutations; ++i) {
    const Photo& photo = photos[i % photos.size()];
    const Photo& other = photos[(i + 1) % photos.size()];
    const char* detect = kDetect[mutator.Below(3)];
    std::string kind, body, type = photo.type;
    const size_t family = mutator.Below(20);
    if (family < 14) {  // a mutated photo, raw
      body = mutator.Mutate(photo.bytes, other.bytes, &kind);
      const char* types[] = {"image/jpeg", "image/png", "image/webp", "application/octet-stream"};
      type = types[mutator.Below(4)];
    } else if (family < 15) {  // a valid photo with a wrong Content-Type
      kind = "wrong Content-Type";
      body = photo.bytes;
      const char* types[] = {"text/plain", "image/gif", "application/x-www-form-urlencoded", ""};
      type = types[mutator.Below(4)];
    } else if (family < 17) {
      std::string inner =
          mutator.Below(2) ? photo.bytes : mutator.Mutate(photo.bytes, other.bytes, &kind);
      body = mutator.Multipart(inner, &kind, &type);
    } else {
      body = mutator.JsonBody(&kind);
      type = "application/json";
    }
    ++kinds[kind];
    const auto start = std::chrono::steady_clock::now();
    HttpReply reply = client.Post(absl::StrCat("/v1/search?k=5&detect=", detect), body, type);
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    ++statuses[std::to_string(reply.status)];
    if (seconds > slowest) slowest = seconds, slowest_kind = kind;
    ASSERT_TRUE(reply.status >= 200 && reply.status < 500)
        << "mutation " << i << " (" << kind << ", " << type << ", detect=" << detect
        << ") answered " << reply.status << ": " << reply.body.substr(0, 300) << "; input saved to "
        << save_failure(i, body);
    if (reply.status != 200) {
      json error = json::parse(reply.body, nullptr, false);
      ASSERT_TRUE(!error.is_discarded() && error.contains("error"))
          << "mutation " << i << ": a 4xx without a JSON error: " << reply.body.substr(0, 200);
    }
    ASSERT_LT(seconds, kMaxSeconds) << "mutation " << i << " (" << kind << ") took " << seconds
                                    << " s; input saved to " << save_failure(i, body);

    if ((i + 1) % kValidEvery == 0) {  // a valid photo answers as on the fresh server
      const Photo& valid = photos[(i / kValidEvery) % photos.size()];
      const char* valid_detect = kDetect[(i / kValidEvery) % 3];
      HttpReply good = ask(valid, valid_detect);
      ASSERT_EQ(good.status, 200) << valid.name << " after mutation " << i << " (" << kind
                                  << "): " << good.body;
      ASSERT_TRUE(SameAnswer(Essence(good.body), fresh[valid.name + valid_detect]))
          << valid.name << " detect=" << valid_detect << " after mutation " << i << " (" << kind
          << ") answered\n"
          << good.body << "\nthe fresh server answered\n"
          << fresh[valid.name + valid_detect].dump();
      ++checked;
    }
  }
  EXPECT_EQ(client.Get("/healthz").status, 200);
  EXPECT_EQ(checked, kMutations / kValidEvery);

  // Memory comes back: let the allocator settle, then compare.
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  const double rss_end = RssMiB(server->pid());
  std::string summary = "statuses:";
  for (const auto& [status, n] : statuses) absl::StrAppend(&summary, " ", status, "x", n);
  absl::StrAppend(&summary, "; slowest ", slowest, " s (", slowest_kind, "); RSS ", rss_start,
                  " -> ", rss_end, " MiB; kinds:");
  for (const auto& [kind, n] : kinds) absl::StrAppend(&summary, " [", kind, "] ", n);
  std::printf("%s\n", summary.c_str());
  EXPECT_LT(rss_end, rss_start * 1.25 + 48) << summary;
  // The mutations reached the decoders, and some still decoded.
  EXPECT_GT(statuses["400"], kMutations / 3) << summary;
  EXPECT_GT(statuses["200"], kMutations / 20) << summary;
}

}  // namespace
}  // namespace photosearch
