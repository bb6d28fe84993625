#include "discovery/static_directory.h"

#include <string>

#include "base/files.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "support/test_env.h"

namespace photosearch {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

class StaticDirectoryTest : public ::testing::Test {
 protected:
  // Writes `yaml` to a file and loads it.
  absl::StatusOr<std::unique_ptr<Directory>> Load(const std::string& yaml) {
    const std::string path = dir_ / "servers.yaml";
    EXPECT_TRUE(WriteFileAtomic(path, yaml).ok());
    return LoadStaticDirectory(path);
  }
  testing::ScratchDir dir_;
};

TEST_F(StaticDirectoryTest, ListsServers) {
  auto directory = Load("servers:\n  - 127.0.0.1:7002\n  - 127.0.0.1:7001\n  - index-3.svc:80\n");
  ASSERT_TRUE(directory.ok()) << directory.status();
  DirectoryView view = (*directory)->View();
  EXPECT_THAT(view.servers, ElementsAre("127.0.0.1:7001", "127.0.0.1:7002", "index-3.svc:80"));
  EXPECT_TRUE(view.registrations.empty());
  EXPECT_FALSE(view.stale);
  EXPECT_GT(view.generation, 0);
  // Flow style is YAML too.
  directory = Load("servers: [\"[::1]:7001\", localhost:7002]");
  ASSERT_TRUE(directory.ok()) << directory.status();
  EXPECT_THAT((*directory)->View().servers, ElementsAre("[::1]:7001", "localhost:7002"));
}

TEST_F(StaticDirectoryTest, RefusesAnythingElse) {
  struct Case {
    std::string yaml;
    std::string message;
  };
  std::string many = "servers:\n";
  for (int i = 0; i < 1001; ++i) many += "  - 127.0.0.1:" + std::to_string(7000 + i) + "\n";
  const std::vector<Case> cases = {
      {"", "must be a map"},
      {"- 127.0.0.1:7001\n", "must be a map"},
      {"servers: 127.0.0.1:7001\n", "servers must be a list"},
      {"servers:\n", "servers must be a list"},
      {"servers: []\n", "1..1000"},
      {many, "1..1000"},
      {"hosts:\n  - 127.0.0.1:7001\n", "unknown key \"hosts\""},
      {"servers:\n  - 127.0.0.1:7001\nextra: 1\n", "unknown key \"extra\""},
      {"other: 1\n", "unknown key"},
      {"servers:\n  - 127.0.0.1:7001\n  - 127.0.0.1\n", "servers.yaml:3: servers[1] \"127.0.0.1\""},
      {"servers:\n  - 127.0.0.1:0\n", "servers[0] \"127.0.0.1:0\""},
      {"servers:\n  - 127.0.0.1:70000\n", "1..65535"},
      {"servers:\n  - [127.0.0.1:7001]\n", "servers[0] must be host:port"},
      {"servers:\n  - {host: a}\n", "servers[0] must be host:port"},
      {"servers:\n  - 127.0.0.1:7001\n  - 127.0.0.1:7001\n", "listed twice"},
      {"servers:\n  - \"a\\x01:1\"\n", "servers[0]"},
      {"servers: [127.0.0.1:7001\n", "not valid YAML"},
      {"servers: " + std::string(100000, '[') + "\n", "servers.yaml"},
      {"servers:\n  - \xff\xfe:1\n", "not UTF-8"},
      {std::string(300 * 1024, '#'), "over"},
  };
  for (const Case& c : cases) {
    auto directory = Load(c.yaml);
    ASSERT_FALSE(directory.ok()) << c.yaml.substr(0, 100);
    EXPECT_EQ(directory.status().code(), absl::StatusCode::kInvalidArgument)
        << c.yaml.substr(0, 100);
    EXPECT_THAT(directory.status().message(), HasSubstr(c.message)) << c.yaml.substr(0, 100);
    EXPECT_THAT(directory.status().message(), HasSubstr("servers.yaml")) << c.yaml.substr(0, 100);
  }
}

TEST_F(StaticDirectoryTest, MissingFile) {
  auto directory = LoadStaticDirectory(dir_ / "absent.yaml");
  EXPECT_EQ(directory.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(directory.status().message(), HasSubstr("absent.yaml"));
}

}  // namespace
}  // namespace photosearch
