#include "gateway/search_request.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace photosearch {
namespace {

using ::testing::HasSubstr;

TEST(ParseSearchJson, ReadsVectorModelAndK) {
  SearchRequest request;
  ASSERT_TRUE(
      ParseSearchJson(R"({"vector":[1,-2.5,3e-3],"model":"m@1","k":7,"x":{}})", 1000, &request)
          .ok());
  EXPECT_THAT(request.vector, ::testing::ElementsAre(1.f, -2.5f, 3e-3f));
  EXPECT_EQ(request.model, "m@1");
  EXPECT_EQ(request.k, 7);
}

TEST(ParseSearchJson, NamesTheValueThatIsWrong) {
  struct Case {
    std::string body, message;
  };
  const std::vector<Case> cases = {
      {R"({"vector":[1,2,1e309]})", "vector[2] is 1e309, out of range of a 32-bit float"},
      {R"({"vector":[-1e400]})", "vector[0] is -1e400, out of range"},
      {R"({"vector":[1e39]})", "vector[0] is 1e+39, out of range of a 32-bit float"},
      {R"({"vector":[1],"k":1e309})", "k is 1e309, out of range"},
      {R"({"a":{"b":[0,[1e999]]}})", "a.b[1][0] is 1e999"},
      {R"({"vector":[1,null]})", "vector[1] is null, not a number"},
      {R"({"vector":[1,[2]]})", "vector[1] is array, not a number"},
      {R"({"vector":[NaN]})", "not valid JSON"},
      {R"({"vector":[1,2)", "not valid JSON"},
      {R"([1,2])", "not a JSON object"},
      {R"({"vector":[]})", "non-empty array"},
      {R"({"vector":[1],"model":7})", "\"model\" must be a string"},
      {R"({"vector":[1],"k":2.5})", "\"k\" must be an integer"},
      {"", "not valid JSON"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.body);
    SearchRequest request;
    absl::Status status = ParseSearchJson(c.body, 1000, &request);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(status.message()), HasSubstr(c.message));
  }
}

TEST(ParseSearchJson, BoundsSizesKAndMessages) {
  SearchRequest request;
  std::string body = "{\"vector\":[1";
  for (size_t i = 0; i < kMaxVectorValues; ++i) body += ",0";
  body += "]}";
  EXPECT_THAT(std::string(ParseSearchJson(body, 1000, &request).message()),
              HasSubstr("over the limit of 65536"));
  std::string long_model = R"({"vector":[1],"model":")" + std::string(300, 'm') + "\"}";
  EXPECT_THAT(std::string(ParseSearchJson(long_model, 1000, &request).message()),
              HasSubstr("over 256 bytes"));
  // k out of range is refused with the range; huge values do not wrap into it.
  for (const char* k : {"0", "-5", "1001", "18446744073709551615", "18446744073709551617",
                        "9223372036854775808", "4294967297", "1e3", "2.0"}) {
    SCOPED_TRACE(k);
    absl::Status status =
        ParseSearchJson(std::string(R"({"vector":[1],"k":)") + k + "}", 1000, &request);
    EXPECT_THAT(std::string(status.message()),
                HasSubstr(std::string("\"k\" must be an integer between 1 and 1000, got ")));
  }
  ASSERT_TRUE(ParseSearchJson(R"({"vector":[1],"k":1000})", 1000, &request).ok());
  EXPECT_EQ(request.k, 1000);
  // Found by fuzzing: a parse error quoted the whole token it was reading.
  std::string unterminated = "{\"model\":\"" + std::string(1 << 20, 'x') + "\r";
  absl::Status status = ParseSearchJson(unterminated, 1000, &request);
  EXPECT_THAT(std::string(status.message()), HasSubstr("not valid JSON"));
  EXPECT_LT(status.message().size(), 500u);
  // Found by fuzzing: the path of an out-of-range number through 60 objects
  // with 64-character keys.
  std::string nested;
  for (int i = 0; i < 60; ++i) nested += "{\"" + std::string(64, 'a' + i % 26) + "\":";
  nested += "1e999";
  status = ParseSearchJson(nested, 1000, &request);
  EXPECT_THAT(std::string(status.message()), ::testing::StartsWith("...eee"));
  EXPECT_THAT(std::string(status.message()), HasSubstr("hhhh is 1e999, out of range"));
  EXPECT_LT(status.message().size(), 300u);
  // Found in review: a deeply nested k crashed the server (the refusal quoted
  // it with a recursive dump). Deep nesting is refused while parsing.
  std::string deep_k = "{\"vector\":[1],\"k\":" + std::string(1'000'000, '[') +
                       std::string(1'000'000, ']') + "}";
  EXPECT_THAT(std::string(ParseSearchJson(deep_k, 1000, &request).message()),
              HasSubstr("nested deeper than 64 levels"));
  EXPECT_THAT(std::string(ParseSearchJson(R"({"vector":[1],"k":[[1]]})", 1000, &request).message()),
              HasSubstr("got array"));
  // Deep nesting is refused, not a stack overflow.
  std::string deep = std::string(100000, '[') + std::string(100000, ']');
  EXPECT_FALSE(ParseSearchJson(deep, 1000, &request).ok());
}

TEST(SearchBodyOf, KnowsTheMediaTypesOfTheApi) {
  EXPECT_EQ(SearchBodyOf("image/jpeg"), SearchBody::kImage);
  EXPECT_EQ(SearchBodyOf("image/webp"), SearchBody::kImage);
  EXPECT_EQ(SearchBodyOf("application/octet-stream"), SearchBody::kImage);
  EXPECT_EQ(SearchBodyOf("multipart/form-data"), SearchBody::kMultipart);
  EXPECT_EQ(SearchBodyOf("application/json"), SearchBody::kJson);
  EXPECT_EQ(SearchBodyOf("text/plain"), SearchBody::kUnsupported);
  EXPECT_EQ(SearchBodyOf(""), SearchBody::kUnsupported);
}

}  // namespace
}  // namespace photosearch
