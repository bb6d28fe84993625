#include "pipeline/catalog.h"

#include "base/files.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "support/test_env.h"

namespace photosearch {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

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

TEST(Catalog, JsonlKeepsTheWindowAndReportsBadRows) {
  const std::string text =
      R"({"item_id":"a","image_url":"http://x/a.jpg","listed_at":"2026-11-22T05:00:00Z","price":12})"
      "\n"
      R"({"item_id":"b","image_url":"http://x/b.jpg","listed_at":"2026-11-22T05:59:59Z","title":"Kiwi"})"
      "\n"
      R"({"item_id":"c","image_url":"http://x/c.jpg","listed_at":"2026-11-22T06:00:00Z"})"
      "\n"
      "\n"
      R"({"item_id":"d","listed_at":"2026-11-22T05:10:00Z"})"
      "\n"
      "not json\n"
      R"({"item_id":"e","image_url":"http://x/e.jpg","listed_at":"soon"})"
      "\n";
  auto read = ParseCatalog(text, "jsonl", Window("hour/2026-11-22T05"), Partition{});
  ASSERT_TRUE(read.ok()) << read.status();
  ASSERT_EQ(read->items.size(), 2u);
  EXPECT_EQ(read->items[0].item_id, "a");
  EXPECT_EQ(read->items[0].attributes.at("price"), "12");
  EXPECT_EQ(read->items[1].attributes.at("title"), "Kiwi");
  EXPECT_EQ(read->rows, 6);
  EXPECT_EQ(read->outside, 1);
  EXPECT_EQ(read->rejected_count, 3);
  EXPECT_THAT(read->rejected,
              ElementsAre(HasSubstr("line 5: no image_url"), HasSubstr("line 6: not a JSON object"),
                          HasSubstr("line 7: listed_at 'soon'")));
}

TEST(Catalog, CsvWithQuotesCommasAndNewlines) {
  const std::string text =
      "item_id,image_url,listed_at,title\r\n"
      "a,http://x/a.jpg,2026-11-22T05:00:00Z,\"Kiwi, green\"\r\n"
      "b,http://x/b.jpg,2026-11-22T05:30:00Z,\"say \"\"hi\"\"\nsecond line\"\n"
      "c,http://x/c.jpg\n"
      "d,http://x/d.jpg,2026-11-22T05:40:00Z,plain\n";
  auto read = ParseCatalog(text, "csv", Window("day/2026-11-22"), Partition{});
  ASSERT_TRUE(read.ok()) << read.status();
  ASSERT_EQ(read->items.size(), 3u);
  EXPECT_EQ(read->items[0].attributes.at("title"), "Kiwi, green");
  EXPECT_EQ(read->items[1].attributes.at("title"), "say \"hi\"\nsecond line");
  EXPECT_EQ(read->items[2].item_id, "d");
  ASSERT_EQ(read->rejected.size(), 1u);
  EXPECT_THAT(read->rejected[0], HasSubstr("line 5: 2 fields, the header has 4"));

  EXPECT_THAT(ParseCatalog("id,url\n1,2\n", "csv", Window("day/2026-11-22"), Partition{})
                  .status()
                  .message(),
              HasSubstr("lacks 'item_id'"));
  EXPECT_FALSE(ParseCatalog("item_id,image_url,listed_at\n\"open", "csv", Window("day/2026-11-22"),
                            Partition{})
                   .ok());
}

TEST(Catalog, LimitsAndFiles) {
  CatalogLimits limits;
  limits.max_line = 200;
  std::string long_url(300, 'u');
  std::string text = R"({"item_id":"a","image_url":")" + long_url +
                     R"(","listed_at":"2026-11-22T05:00:00Z"})"
                     "\n";
  auto read = ParseCatalog(text, "jsonl", Window("day/2026-11-22"), Partition{}, limits);
  ASSERT_TRUE(read.ok());
  EXPECT_TRUE(read->items.empty());
  EXPECT_THAT(read->rejected[0], HasSubstr("longer than 200 bytes"));

  testing::ScratchDir dir;
  ASSERT_TRUE(
      WriteFileAtomic(dir / "c.jsonl",
                      R"({"item_id":"a","image_url":"u","listed_at":"2026-11-22T05:00:00Z"})")
          .ok());
  EXPECT_EQ(ReadCatalog(dir / "c.jsonl", Window("day/2026-11-22"), Partition{})->items.size(), 1u);
  EXPECT_EQ(ReadCatalog("file://" + (dir / "c.jsonl"), Window("day/2026-11-22"), Partition{})
                ->items.size(),
            1u);
  EXPECT_EQ(ReadCatalog(dir / "c.txt", Window("day/2026-11-22"), Partition{}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ReadCatalog(dir / "none.csv", Window("day/2026-11-22"), Partition{}).status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(ReadCatalog("ftp://h/c.csv", Window("day/2026-11-22"), Partition{}).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace photosearch
