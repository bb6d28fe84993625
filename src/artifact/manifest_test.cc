#include "artifact/manifest.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace photosearch {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;

ArtifactManifest Example() {
  ArtifactManifest m;
  m.kind = "feature";
  m.model_id = "m@1";
  m.dimension = 4;
  m.window = "hour/2026-11-22T05";
  m.partition = 1;
  m.partitions = 4;
  m.item_count = 2;
  m.version = 3;
  m.created_at = "2026-11-22T06:00:00Z";
  m.inputs = {{"run", "r1"}};
  m.files = {{"ids.bin", 10, std::string(64, 'a')}, {"sub/vectors.f32", 32, std::string(64, '0')}};
  return m;
}

TEST(ArtifactManifest, RoundTrips) {
  const std::string text = ManifestToJson(Example());
  auto parsed = ParseManifest(text);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(ManifestToJson(*parsed), text);
  EXPECT_EQ(parsed->partition, 1);
  EXPECT_EQ(parsed->files[1].name, "sub/vectors.f32");
}

// Found by fuzzing and by reading: a manifest comes from a repository that
// someone else may write; numbers must not wrap or be cast out of range, and
// file names must not point outside the version's folder.
TEST(ArtifactManifest, RefusesWhatWouldWrapEscapeOrLie) {
  struct Case {
    const char* pointer;
    json value;
    const char* message;
  };
  const std::vector<Case> cases = {
      {"/dimension", int64_t{4294967297}, "dimension must be an integer in 1..65536"},
      {"/dimension", 1e30, "dimension must be an integer"},
      {"/partition/index", 4, "partition.index must be an integer in 0..3"},
      {"/partition/count", 0, "partition.count"},
      {"/item_count", -1, "item_count"},
      {"/item_count", 1e300, "item_count"},
      {"/version", 0, "version"},
      {"/files/0/size", -5, "files[].size"},
      {"/files/0/name", "../../secret", "not a plain relative path"},
      {"/files/0/name", "/etc/passwd", "not a plain relative path"},
      {"/files/0/name", "a//b", "not a plain relative path"},
      {"/files/0/name", "", "not a plain relative path"},
      {"/files/0/sha256", "abc", "not 64 hex digits"},
      {"/files/0/name", "CLAIM", "not a plain relative path"},
      {"/files/0/name", "a\nb", "not a plain relative path"},
      {"/files/1/name", "ids.bin", "ids.bin is listed twice"},
      // An empty list would leave nothing to verify (found in review).
      {"/files", json::array(), "\"files\" must be a non-empty list"},
      {"/files", json::object(), "\"files\" must be a non-empty list"},
      {"/files", nullptr, "\"files\" must be a non-empty list"},
      {"/dimension", json::array({json::array({1})}), "dimension must be an integer"},
      {"/kind", 3, "mistyped field"},
      {"/schema_version", 1.5, "not supported"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.pointer);
    json j = json::parse(ManifestToJson(Example()));
    j[json::json_pointer(c.pointer)] = c.value;
    auto parsed = ParseManifest(j.dump());
    ASSERT_FALSE(parsed.ok());
    EXPECT_THAT(std::string(parsed.status().message()), HasSubstr(c.message));
  }
}

}  // namespace
}  // namespace photosearch
