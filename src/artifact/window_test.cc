#include "artifact/window.h"

#include "gtest/gtest.h"

namespace photosearch {
namespace {

TimeWindow Window(const std::string& name) {
  auto w = ParseTimeWindow(name);
  EXPECT_TRUE(w.ok()) << name;
  return *w;
}

TEST(TimeWindow, HoursDaysAndMonthsInUtc) {
  TimeWindow hour = Window("hour/2026-11-22T05");
  EXPECT_EQ(hour.begin, 1795323600);  // 2026-11-22T05:00:00Z
  EXPECT_EQ(hour.end - hour.begin, 3600);
  EXPECT_TRUE(hour.Children().empty());
  TimeWindow day = Window("day/2026-11-22");
  EXPECT_EQ(day.end - day.begin, 86400);
  ASSERT_EQ(day.Children().size(), 24u);
  EXPECT_EQ(day.Children().front(), "hour/2026-11-22T00");
  EXPECT_EQ(day.Children().back(), "hour/2026-11-22T23");
  EXPECT_EQ(Window("month/2028-02").Children().size(), 29u);  // leap year
  EXPECT_EQ(Window("month/2026-02").Children().size(), 28u);
  TimeWindow december = Window("month/2026-12");
  EXPECT_EQ(december.Children().back(), "day/2026-12-31");
  EXPECT_EQ(december.end, Window("day/2027-01-01").begin);
  for (const char* bad : {"hour/2026-11-22T24", "day/2026-02-30", "month/2026-13", "week/2026-47",
                          "day/2026-11-22/x", "all", "", "hour/2026-11-22"}) {
    EXPECT_EQ(ParseTimeWindow(bad).status().code(), absl::StatusCode::kInvalidArgument) << bad;
  }
}

TEST(Rfc3339, OffsetsFractionsAndNonsense) {
  EXPECT_EQ(*ParseRfc3339("2026-11-22T05:00:00Z"), 1795323600);
  EXPECT_EQ(*ParseRfc3339("2026-11-22T06:00:00+01:00"), 1795323600);
  EXPECT_EQ(*ParseRfc3339("2026-11-21T23:30:00.123-05:30"), 1795323600);
  for (const char* bad : {"2026-11-22", "2026-11-22T05:00:00", "2026-02-30T00:00:00Z", "yesterday",
                          "2026-11-22T25:00:00Z"}) {
    EXPECT_FALSE(ParseRfc3339(bad).ok()) << bad;
  }
}

TEST(Partition, DisjointAndComplete) {
  EXPECT_EQ(ParsePartition("3/4")->index, 3);
  for (const char* bad : {"4/4", "1", "-1/2", "0/0", "a/b"})
    EXPECT_FALSE(ParsePartition(bad).ok()) << bad;
  for (int i = 0; i < 1000; ++i) {
    std::string id = "item-" + std::to_string(i);
    int owners = 0;
    for (int p = 0; p < 4; ++p) owners += InPartition(id, Partition{p, 4});
    EXPECT_EQ(owners, 1) << id;
  }
}

TEST(TimeWindow, ParentsAndWindowAt) {
  EXPECT_EQ(Window("hour/2026-11-22T05").Parent(), "day/2026-11-22");
  EXPECT_EQ(Window("day/2026-11-22").Parent(), "month/2026-11");
  EXPECT_EQ(Window("month/2026-11").Parent(), "");
  const int64_t t = Window("hour/2026-12-31T23").begin + 3599;
  EXPECT_EQ(WindowAt("hour", t), "hour/2026-12-31T23");
  EXPECT_EQ(WindowAt("day", t), "day/2026-12-31");
  EXPECT_EQ(WindowAt("month", t + 1), "month/2027-01");
}

TEST(Windows, Validation) {
  for (const char* good : {"all", "hour/2026-11-22T05", "day/2026-11-22", "month/2026-11"}) {
    EXPECT_TRUE(ValidateWindow(good).ok()) << good;
  }
  for (const char* bad : {"", "hour/2026-11-22", "day/2026-11", "month/2026", "year/2026", "all/x",
                          "day/2026-02-30", "hour/2026-11-22T24"}) {
    EXPECT_FALSE(ValidateWindow(bad).ok()) << bad;
  }
  EXPECT_TRUE(ValidatePartition(Partition{3, 4}).ok());
  EXPECT_FALSE(ValidatePartition(Partition{4, 4}).ok());
  EXPECT_FALSE(ValidatePartition(Partition{0, 0}).ok());
  EXPECT_FALSE(ValidatePartition(Partition{-1, 2}).ok());
}

}  // namespace
}  // namespace photosearch
