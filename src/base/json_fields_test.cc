#include "base/json_fields.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace photosearch {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;

TEST(JsonFields, IntegersAreCheckedBeforeTheyAreNarrowed) {
  const json j = json::parse(
      R"({"a": 7, "b": 7.0, "c": 7.5, "d": 1e30, "e": 4294967297, "f": "7", "g": -1,
          "h": 18446744073709551615, "i": 9223372036854775808.0, "j": [1]})");
  EXPECT_EQ(*json_fields::Int(j, "a", 0, 0, 10), 7);
  EXPECT_EQ(*json_fields::Int(j, "b", 0, 0, 10), 7);
  EXPECT_EQ(*json_fields::Int(j, "missing", 3, 0, 10), 3);
  for (const char* key : {"c", "d", "e", "f", "g", "h", "i", "j"}) {
    SCOPED_TRACE(key);
    auto v = json_fields::Int(j, key, 0, 0, 1 << 30, "x.");
    ASSERT_FALSE(v.ok());
    EXPECT_THAT(std::string(v.status().message()),
                HasSubstr(std::string("x.") + key + " must be an integer in 0..1073741824, not "));
  }
  // The full int64 range, and the float just past it.
  EXPECT_EQ(*json_fields::IntValue(json(INT64_MAX), INT64_MIN, INT64_MAX, "v"), INT64_MAX);
  EXPECT_FALSE(json_fields::IntValue(json(0x1p63), INT64_MIN, INT64_MAX, "v").ok());
  EXPECT_EQ(*json_fields::IntValue(json(-0x1p63), INT64_MIN, INT64_MAX, "v"), INT64_MIN);
}

TEST(JsonFields, NumbersAreFiniteAndInRange) {
  const json j = json::parse(R"({"a": 0.5, "b": 1e39, "c": "0.5", "d": 2})");
  EXPECT_EQ(*json_fields::Number(j, "a", 0, 0, 1), 0.5);
  EXPECT_EQ(*json_fields::Number(j, "d", 0, 0, 2), 2.0);
  EXPECT_EQ(*json_fields::Number(j, "missing", 0.25, 0, 1), 0.25);
  EXPECT_FALSE(json_fields::Number(j, "b", 0, -3.4e38, 3.4e38).ok());
  EXPECT_FALSE(json_fields::Number(j, "c", 0, 0, 1).ok());
}

// Found in review: a parent of the wrong type made every field silently take
// its default ("thresholds": [0.9]).
TEST(JsonFields, AParentThatIsNotAnObjectIsRefused) {
  auto v = json_fields::Number(json::array({0.9}), "score", 0.3, 0, 1, "thresholds.");
  ASSERT_FALSE(v.ok());
  EXPECT_THAT(std::string(v.status().message()),
              HasSubstr("thresholds must be an object, not array"));
  EXPECT_EQ(*json_fields::Int(json(), "k", 5, 0, 10), 5);  // absent parent: defaults
}

// Found in review: nlohmann dumps, copies and compares recursively, one stack
// frame per level, so a 2 MB body of brackets crashed the server when an error
// message quoted it. Parse refuses deep nesting; Describe never dumps
// containers.
TEST(JsonFields, DeepNestingIsRefusedWhileParsing) {
  const std::string deep = "{\"k\":" + std::string(1'000'000, '[') + std::string(1'000'000, ']') + "}";
  auto parsed = json_fields::Parse(deep);
  ASSERT_FALSE(parsed.ok());
  EXPECT_THAT(std::string(parsed.status().message()), HasSubstr("nested deeper than 64 levels"));
  EXPECT_TRUE(json_fields::Parse(std::string(64, '[') + std::string(64, ']')).ok());
  EXPECT_FALSE(json_fields::Parse(std::string(66, '[') + std::string(66, ']')).ok());
  EXPECT_EQ(json_fields::Describe(json::parse("[[[1]]]")), "array");
  EXPECT_EQ(json_fields::Describe(json(std::string(100, 'x'))).size(), 43u);
}

TEST(JsonFields, ParseErrorsAreBoundedAndOverflowIsOutOfRange) {
  auto overflow = json_fields::Parse(R"({"v": [1e309]})");
  EXPECT_EQ(overflow.status().code(), absl::StatusCode::kOutOfRange);
  std::string unterminated(100002, 'x');
  unterminated.front() = '"';
  unterminated.back() = '\n';
  auto bad = json_fields::Parse(unterminated);
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_LT(bad.status().message().size(), 310u);
}

TEST(DumpJson, InvalidUtf8IsReplacedNotThrown) {
  EXPECT_EQ(DumpJson(json{{"path", "folder:/tmp/\xff"}}), "{\"path\":\"folder:/tmp/\xEF\xBF\xBD\"}");
}

}  // namespace
}  // namespace photosearch
