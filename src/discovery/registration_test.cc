#include "discovery/registration.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace photosearch {
namespace {

using ::testing::HasSubstr;

Registration Sample() {
  Registration r;
  r.address = "10.0.0.7:7001";
  r.model = "mobilenetv2-gap1280-fp32@1";
  r.window = "day/2026-11-22";
  r.partition = 2;
  r.partitions = 4;
  r.version = 1795323600123;
  r.items = 48213;
  return r;
}

// Sample()'s JSON with `field` replaced by `value` (raw JSON text).
std::string With(const std::string& field, const std::string& value) {
  nlohmann::json j = nlohmann::json::parse(RegistrationJson(Sample()));
  j[field] = nlohmann::json::parse(value);
  return j.dump();
}

std::string Without(const std::string& field) {
  nlohmann::json j = nlohmann::json::parse(RegistrationJson(Sample()));
  j.erase(field);
  return j.dump();
}

TEST(Registration, NamesAndKey) {
  Registration r = Sample();
  EXPECT_EQ(r.ShardName(), "day/2026-11-22/part-2-of-4");
  EXPECT_EQ(RegistrationKey(kDefaultPrefix, r),
            "/photosearch/v1/shards/mobilenetv2-gap1280-fp32@1/day/2026-11-22/part-2-of-4/"
            "10.0.0.7:7001");
  r.window = "all";
  r.partition = 0;
  r.partitions = 1;
  EXPECT_EQ(RegistrationKey("/p/", r),
            "/p/mobilenetv2-gap1280-fp32@1/all/part-0-of-1/10.0.0.7:7001");
}

TEST(Registration, RoundTrip) {
  for (Registration r : {Sample(), Registration{"[::1]:1", "m@1", "all", 0, 1, 0, 0},
                         Registration{"index-3.internal:65535", "m", "hour/2026-11-22T05", 0, 1,
                                      INT64_MAX, INT64_MAX},
                         Registration{"h:7", "m", "month/2026-02", 65535, 65536, 1, 2}}) {
    absl::StatusOr<Registration> parsed = ParseRegistration(RegistrationJson(r));
    ASSERT_TRUE(parsed.ok()) << parsed.status() << " " << RegistrationJson(r);
    EXPECT_EQ(*parsed, r);
  }
}

TEST(Registration, IgnoresUnknownFieldsAndDefaultsPartitions) {
  auto parsed = ParseRegistration(With("health", R"({"since": "2026-11-22"})"));
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(*parsed, Sample());
  parsed = ParseRegistration(R"({"address":"h:1","model":"m","window":"all"})");
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->partition, 0);
  EXPECT_EQ(parsed->partitions, 1);
  EXPECT_EQ(parsed->version, 0);
}

TEST(Registration, RefusesMalformedValues) {
  struct Case {
    std::string json;
    std::string message;  // a part of the error
  };
  const std::string deep = std::string(1000, '[') + std::string(1000, ']');
  const std::string huge = std::string(100000, '[') + std::string(100000, ']');
  const std::string deep_field = With("extra", std::string(20, '[') + std::string(20, ']'));
  const std::vector<Case> cases = {
      {"", "registration"},
      {"not json", "registration"},
      {"{\"address\":", "registration"},
      {"[]", "must be a JSON object"},
      {"\"h:1\"", "must be a JSON object"},
      {"null", "must be a JSON object"},
      {deep, "nested deeper"},
      {huge, "bytes, over"},
      {deep_field, "nested deeper"},
      {std::string(70000, ' ') + "{}", "bytes, over"},
      {Without("address"), "address is missing"},
      {Without("model"), "model is missing"},
      {Without("window"), "window is missing"},
      {With("address", "7001"), "address must be a string"},
      {With("address", "\"10.0.0.7\""), "no port"},
      {With("address", "\"10.0.0.7:0\""), "1..65535"},
      {With("address", "\"10.0.0.7:65536\""), "1..65535"},
      {With("address", "\"10.0.0.7:99999999999999999999\""), "1..65535"},
      {With("address", "\"10.0.0.7:+80\""), "1..65535"},
      {With("address", "\"10.0.0.7:80a\""), "1..65535"},
      {With("address", "\":80\""), "no host"},
      {With("address", "\"a b:80\""), "host may hold only"},
      {With("address", "\"h/x:80\""), "host may hold only"},
      {With("address", "\"[zz]:80\""), "IPv6"},
      {With("address", "\"" + std::string(300, 'a') + ":80\""), "over 255 bytes"},
      {With("model", "\"\""), "model must be 1..256"},
      {With("model", "\"" + std::string(257, 'm') + "\""), "model must be 1..256"},
      {With("model", "\"a/b\""), "may hold only"},
      {With("window", "\"week/2026-47\""), "window"},
      {With("window", "\"day/2026-02-30\""), "window"},
      {With("window", "\"\""), "window"},
      {With("partition", "4"), "partition"},
      {With("partition", "-1"), "partition"},
      {With("partition", "1.5"), "partition"},
      {With("partition", "\"1\""), "partition"},
      {With("partition", "1099511627776"), "partition"},
      {With("partitions", "0"), "partitions"},
      {With("partitions", "1e30"), "partitions"},
      {With("version", "-1"), "version"},
      {With("version", "1e30"), "version"},
      {With("version", "9223372036854775808"), "version"},
      {With("version", "18446744073709551616"), "version"},
      {"{\"address\":\"h:1\",\"model\":\"m\",\"window\":\"all\",\"version\":1e400}",
       "registration"},
      {With("items", "-5"), "items"},
      {With("items", "true"), "items"},
  };
  for (const Case& c : cases) {
    absl::StatusOr<Registration> parsed = ParseRegistration(c.json);
    EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument) << c.json.substr(0, 200);
    EXPECT_THAT(parsed.status().message(), HasSubstr(c.message)) << c.json.substr(0, 200);
    EXPECT_LT(parsed.status().message().size(), 600u);
  }
}

TEST(Registration, ValidatesHostPort) {
  for (const char* good : {"127.0.0.1:7001", "localhost:1", "[::1]:7001", "[2001:db8::7]:80",
                           "index_3.svc-a.local:65535"}) {
    EXPECT_TRUE(ValidateHostPort(good).ok()) << good;
  }
  for (const char* bad : {"", "host", "host:", ":1", "host:0", "host:65536", "host:-1", "::1:80",
                          "[::1]", "[]:80", "ho st:1", "host:1 ", "héllo:1"}) {
    EXPECT_FALSE(ValidateHostPort(bad).ok()) << bad;
  }
}

}  // namespace
}  // namespace photosearch
