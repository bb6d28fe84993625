// PostgreSQL as a catalog source: Debian's server (initdb + postgres) is
// started by the test on 127.0.0.1 in a scratch directory, filled with
// listings, and read for a window (bounds as query parameters) and partition;
// then `photosearch pipeline run` indexes an hour from it.
#include <libpq-fe.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <thread>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "pipeline/catalog.h"
#include "support/test_env.h"

namespace photosearch {
namespace {

using ::testing::HasSubstr;

constexpr char kBin[] = "/usr/lib/postgresql/15/bin/";

int FreePort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  socklen_t len = sizeof(addr);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

// Runs argv as the postgres user when we are root (the server refuses root).
std::vector<std::string> AsPostgres(std::vector<std::string> argv) {
  if (::getuid() != 0) return argv;
  argv.insert(argv.begin(), {"/usr/sbin/runuser", "-u", "postgres", "--"});
  return argv;
}

class PostgresCatalogTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new testing::ScratchDir();
    std::string output;
    if (::getuid() == 0) {
      ASSERT_EQ(testing::RunCommand({"/bin/chown", "postgres", dir_->path()}, &output), 0)
          << output;
    }
    ASSERT_EQ(
        testing::RunCommand(AsPostgres({std::string(kBin) + "initdb", "-D", *dir_ / "data", "-U",
                                        "postgres", "--auth=trust", "-E", "UTF8", "--no-sync"}),
                            &output),
        0)
        << output;
    port_ = FreePort();
    server_ = new testing::ChildProcess(AsPostgres(
        {std::string(kBin) + "postgres", "-D", *dir_ / "data", "-p", std::to_string(port_), "-k",
         dir_->path(), "-c", "listen_addresses=127.0.0.1", "-F"}));
    conninfo_ = "postgresql://postgres@127.0.0.1:" + std::to_string(port_) + "/postgres";
    for (int i = 0; i < 300 && PQping(conninfo_.c_str()) != PQPING_OK; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    ASSERT_EQ(PQping(conninfo_.c_str()), PQPING_OK) << "postgres did not start";

    const std::string kiwi = testing::AssetsDir() + "/photos/grocery_store/test/Fruit/Kiwi/";
    std::string sql =
        "CREATE TABLE listings (item_id text, image_url text, listed_at timestamptz, title text);"
        "INSERT INTO listings VALUES ";
    for (int i = 1; i <= 12; ++i) {
      char name[32];
      std::snprintf(name, sizeof(name), "Kiwi_%03d.jpg", i);
      sql += std::string(i > 1 ? "," : "") + "('kiwi-" + std::to_string(i) + "', 'file://" +
             std::filesystem::absolute(kiwi + name).lexically_normal().string() +
             "', '2026-11-22 0" + (i <= 10 ? "5" : "6") + ":1" + std::to_string(i % 10) +
             ":00+00', 'Kiwi " + std::to_string(i) + "')";
    }
    sql += ",('no-url', NULL, '2026-11-22 05:00:00+00', 'broken');";
    PGconn* conn = PQconnectdb(conninfo_.c_str());
    PGresult* result = PQexec(conn, sql.c_str());
    ASSERT_EQ(PQresultStatus(result), PGRES_COMMAND_OK) << PQresultErrorMessage(result);
    PQclear(result);
    PQfinish(conn);
  }
  static void TearDownTestSuite() {
    delete server_;
    delete dir_;
  }

  static testing::ScratchDir* dir_;
  static testing::ChildProcess* server_;
  static int port_;
  static std::string conninfo_;
};
testing::ScratchDir* PostgresCatalogTest::dir_ = nullptr;
testing::ChildProcess* PostgresCatalogTest::server_ = nullptr;
int PostgresCatalogTest::port_ = 0;
std::string PostgresCatalogTest::conninfo_;

TEST_F(PostgresCatalogTest, WindowPartitionAttributesAndErrors) {
  auto hour = ParseTimeWindow("hour/2026-11-22T05");
  auto read = ReadPostgresCatalog(conninfo_, kDefaultPostgresQuery, *hour, Partition{});
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(read->items.size(), 10u);  // hour 06 is outside; the row without a URL is rejected
  EXPECT_EQ(read->rejected_count, 1);
  EXPECT_THAT(read->rejected[0], HasSubstr("no image_url"));
  EXPECT_EQ(read->items[0].item_id, "kiwi-10");  // ORDER BY listed_at: 05:10 first
  auto first = std::find_if(read->items.begin(), read->items.end(),
                            [](const CatalogItem& item) { return item.item_id == "kiwi-1"; });
  ASSERT_NE(first, read->items.end());
  EXPECT_EQ(first->attributes.at("title"), "Kiwi 1");
  EXPECT_EQ(first->listed_at, *ParseRfc3339("2026-11-22T05:11:00Z"));

  size_t across = 0;
  for (int p = 0; p < 3; ++p) {
    across +=
        ReadPostgresCatalog(conninfo_, kDefaultPostgresQuery, *hour, Partition{p, 3})->items.size();
  }
  EXPECT_EQ(across, 10u);

  auto custom = ReadPostgresCatalog(
      conninfo_,
      "SELECT item_id, image_url, listed_at FROM listings WHERE listed_at >= $1 AND listed_at < $2 "
      "AND title LIKE 'Kiwi 1%'",
      *ParseTimeWindow("day/2026-11-22"), Partition{});
  ASSERT_TRUE(custom.ok()) << custom.status();
  EXPECT_EQ(custom->items.size(), 4u);  // 1, 10, 11, 12

  EXPECT_EQ(ReadPostgresCatalog(conninfo_, "SELECT nonsense FROM nowhere", *hour, Partition{})
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(ReadPostgresCatalog(conninfo_, "SELECT 1 AS item_id WHERE $1::text <> $2::text",
                                  *hour, Partition{})
                  .status()
                  .message(),
              HasSubstr("no 'image_url' column"));
  EXPECT_EQ(ReadPostgresCatalog("postgresql://postgres@127.0.0.1:1/postgres", kDefaultPostgresQuery,
                                *hour, Partition{})
                .status()
                .code(),
            absl::StatusCode::kUnavailable);
}

TEST_F(PostgresCatalogTest, PipelineRunIndexesAnHourFromTheDatabase) {
  testing::ScratchDir work;
  std::string output;
  int code = testing::RunCommand(
      {testing::PhotosearchBin(), "pipeline", "run", "--window", "hour/2026-11-22T05", "--catalog",
       conninfo_, "--repo", work / "repo", "--cache-dir", work / "cache", "--file-root",
       testing::AssetsDir(), "--max-failed", "0.2"},
      &output);
  ASSERT_EQ(code, 0) << output;
  EXPECT_THAT(output, HasSubstr("succeeded: 10 catalog items, 10 embedded"));
  EXPECT_THAT(output, HasSubstr("1 failed"));  // the catalog row without a URL
}

}  // namespace
}  // namespace photosearch
