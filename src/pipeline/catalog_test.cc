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
                          HasSubstr("line 7: listed_at: time 'soon'")));
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
