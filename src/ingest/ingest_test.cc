// Unit tests of the ingest's parts that need no server: events, the log and
// the handover rule (the consumer against a real redis-server is in
// tests/ingest_test.cc).
#include <filesystem>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "artifact/window.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "ingest/events.h"
#include "ingest/handover.h"
#include "ingest/ingest_log.h"
#include "support/test_env.h"

namespace photosearch {
namespace {

using ::testing::HasSubstr;
namespace fs = std::filesystem;

StreamEntry Entry(std::vector<std::pair<std::string, std::string>> fields,
                  std::string id = "1796338800000-0") {
  return StreamEntry{std::move(id), std::move(fields), false};
}

TEST(ListingEvent, PutsAndDeletes) {
  auto put = ParseListingEvent(Entry({{"op", "put"},
                                      {"item_id", "sku-1"},
                                      {"image_url", "https://img/1.jpg"},
                                      {"listed_at", "2026-12-03T23:00:00Z"},
                                      {"attrs", R"({"price": 3})"},
                                      {"unknown", "ignored"}}));
  ASSERT_TRUE(put.ok()) << put.status();
  EXPECT_EQ(put->op, ListingEvent::Op::kPut);
  EXPECT_EQ(put->event_ms, 1796338800000);
  EXPECT_EQ(put->listed_at, 1796338800);
  EXPECT_EQ(put->attrs, R"({"price": 3})");
  auto del = ParseListingEvent(Entry({{"op", "delete"}, {"item_id", "sku-1"}}, "1796338801500-3"));
  ASSERT_TRUE(del.ok());
  EXPECT_EQ(del->deleted_at, 1796338801);  // the entry's time
  auto dated = ParseListingEvent(
      Entry({{"op", "delete"}, {"item_id", "sku-1"}, {"deleted_at", "2027-01-01T00:00:00Z"}}));
  EXPECT_EQ(dated->deleted_at, 1798761600);
}

TEST(ListingEvent, EveryBadEventSaysWhy) {
  const std::string long_id(kMaxItemIdBytes + 1, 'x');
  struct Case {
    std::vector<std::pair<std::string, std::string>> fields;
    std::string reason;
  } cases[] = {
      {{{"item_id", "a"}}, "missing field 'op'"},
      {{{"op", "update"}, {"item_id", "a"}}, "neither put nor delete"},
      {{{"op", "put"}, {"image_url", "http://x"}, {"listed_at", "2026-12-03T23:00:00Z"}},
       "missing field 'item_id'"},
      {{{"op", "put"}, {"item_id", "a"}, {"listed_at", "2026-12-03T23:00:00Z"}},
       "missing field 'image_url'"},
      {{{"op", "put"}, {"item_id", "a"}, {"image_url", "http://x"}}, "missing field 'listed_at'"},
      {{{"op", "put"}, {"item_id", "a"}, {"image_url", "http://x"}, {"listed_at", "yesterday"}},
       "not an RFC 3339 time"},
      {{{"op", "put"}, {"item_id", "a"}, {"image_url", "http://x"}, {"listed_at", "1960-01-01T00:00:00Z"}},
       "outside the years 1970 to 9999"},
      {{{"op", "put"}, {"item_id", long_id}, {"image_url", "http://x"}, {"listed_at", "2026-12-03T23:00:00Z"}},
       "item_id is 4097 bytes"},
      {{{"op", "put"}, {"item_id", "\xff"}, {"image_url", "http://x"}, {"listed_at", "2026-12-03T23:00:00Z"}},
       "not UTF-8"},
      {{{"op", "put"}, {"item_id", "a"}, {"image_url", "ftp://x"}, {"listed_at", "2026-12-03T23:00:00Z"}},
       "not http(s)://"},
      {{{"op", "put"}, {"item_id", "a"}, {"image_url", "http://x"}, {"listed_at", "2026-12-03T23:00:00Z"},
        {"attrs", "[1]"}},
       "attrs is not a JSON object"},
      {{{"op", "delete"}, {"item_id", "a"}, {"deleted_at", "soon"}}, "deleted_at"},
      {{{"op", "delete"}, {"op", "delete"}, {"item_id", "a"}}, "given twice"},
  };
  for (const Case& c : cases) {
    auto event = ParseListingEvent(Entry(c.fields));
    ASSERT_FALSE(event.ok()) << c.reason;
    EXPECT_EQ(event.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(event.status().message()), HasSubstr(c.reason));
  }
  StreamEntry trimmed = Entry({});
  trimmed.trimmed = true;
  EXPECT_THAT(std::string(ParseListingEvent(trimmed).status().message()), HasSubstr("trimmed"));
  EXPECT_FALSE(ParseListingEvent(Entry({{"op", "delete"}, {"item_id", "a"}}, "x-1")).ok());
  EXPECT_FALSE(StreamIdMillis("123").ok());
  EXPECT_EQ(StreamIdMillis("123-4").value(), 123);
}

TEST(ListingEvent, ParsesReadAndClaimReplies) {
  auto s = [](std::string v) {
    RedisReply r;
    r.type = RedisReply::Type::kString;
    r.str = std::move(v);
    return r;
  };
  auto array = [](std::vector<RedisReply> e) {
    RedisReply r;
    r.type = RedisReply::Type::kArray;
    r.elements = std::move(e);
    return r;
  };
  RedisReply nil;
  RedisReply entries = array({array({s("1-0"), array({s("op"), s("delete"), s("item_id"), s("x")})}),
                              array({s("2-0"), nil})});
  auto read = ParseReadReply(array({array({s("listings"), entries})}));
  ASSERT_TRUE(read.ok()) << read.status();
  ASSERT_EQ(read->size(), 2u);
  EXPECT_EQ((*read)[0].fields.size(), 2u);
  EXPECT_TRUE((*read)[1].trimmed);
  EXPECT_TRUE(ParseReadReply(nil)->empty());
  std::string cursor;
  auto claimed = ParseAutoClaimReply(array({s("0-0"), entries, array({s("3-0")})}), &cursor);
  ASSERT_TRUE(claimed.ok());
  EXPECT_EQ(cursor, "0-0");
  ASSERT_EQ(claimed->size(), 3u);
  EXPECT_TRUE((*claimed)[2].trimmed);
  EXPECT_FALSE(ParseReadReply(s("x")).ok());
  EXPECT_FALSE(ParseReadReply(array({array({s("l"), array({array({s("1-0"), array({s("odd")})})})})}))
                   .ok());
}

TEST(RedisUrl, ParsesAndRedacts) {
  auto a = ParseRedisUrl("redis://:s3cret@10.0.0.5:6380/2");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->host, "10.0.0.5");
  EXPECT_EQ(a->port, 6380);
  EXPECT_EQ(a->db, 2);
  EXPECT_EQ(a->password, "s3cret");
  EXPECT_THAT(a->Redacted(), ::testing::Not(HasSubstr("s3cret")));
  EXPECT_EQ(ParseRedisUrl("redis://127.0.0.1")->port, 6379);
  for (const char* bad : {"http://x", "redis://", "redis://h:0", "redis://h:70000", "redis://h/16",
                          "redis://h:1/x"}) {
    EXPECT_FALSE(ParseRedisUrl(bad).ok()) << bad;
  }
}

LoggedPut Put(const std::string& id, int64_t listed_at, int64_t event_ms, float x) {
  LoggedPut put;
  put.listing = LiveListing{id, listed_at, event_ms, "file:///" + id, absl::StrCat(event_ms, "-0")};
  put.vectors = {{x, 1 - x, 0, 0}};
  return put;
}

TEST(IngestLog, ReplaysTheNewestListingAndUnpublishedDeletes) {
  testing::ScratchDir dir;
  const int64_t h5 = 1796360400;  // 2026-12-04T05:00:00Z
  {
    auto log = IngestLog::Open(dir.path(), 4);
    ASSERT_TRUE(log.ok());
    ASSERT_TRUE((*log)->Replay().ok());
    ASSERT_TRUE((*log)->Append({Put("a", h5, 1, 0.1f), Put("b", h5 + 60, 2, 0.2f)}, {}).ok());
    // "a" listed again an hour later: another file, the newer wins.
    ASSERT_TRUE((*log)->Append({Put("a", h5 + 3600, 3, 0.3f)},
                               {{"4-0", "b", h5 + 100, 4}, {"5-0", "c", h5, 5}})
                    .ok());
    ASSERT_TRUE((*log)->MarkPublished(1).ok());
  }
  auto log = IngestLog::Open(dir.path(), 4);
  auto contents = (*log)->Replay();
  ASSERT_TRUE(contents.ok()) << contents.status();
  EXPECT_EQ(contents->records, 4);  // 3 puts, 1 delete left
  ASSERT_EQ(contents->puts.size(), 2u);
  std::map<std::string, LoggedPut> by_id;
  for (const LoggedPut& p : contents->puts) by_id[p.listing.item_id] = p;
  EXPECT_EQ(by_id["a"].listing.listed_at, h5 + 3600);
  EXPECT_FLOAT_EQ(by_id["a"].vectors[0][0], 0.3f);
  ASSERT_EQ(contents->deletes.size(), 1u);
  EXPECT_EQ(contents->deletes[0].item_id, "c");
  EXPECT_THAT((*log)->hours(), ::testing::ElementsAre("2026-12-04T05", "2026-12-04T06"));
}

TEST(IngestLog, CutsATornTailAndKeepsAppending) {
  testing::ScratchDir dir;
  const int64_t h5 = 1796360400;
  {
    auto log = IngestLog::Open(dir.path(), 4);
    ASSERT_TRUE((*log)->Replay().ok());
    ASSERT_TRUE((*log)->Append({Put("a", h5, 1, 0.1f), Put("b", h5, 2, 0.2f)}, {}).ok());
  }
  // A crash in the middle of the third record.
  const std::string path = dir / "puts-2026-12-04T05.0.log";
  const std::string third = EncodeLogRecord(Put("c", h5, 3, 0.3f));
  {
    std::ofstream out(path, std::ios::app | std::ios::binary);
    out << third.substr(0, third.size() / 2);
  }
  const auto size = fs::file_size(path);
  auto log = IngestLog::Open(dir.path(), 4);
  auto contents = (*log)->Replay();
  ASSERT_TRUE(contents.ok());
  EXPECT_EQ(contents->puts.size(), 2u);
  EXPECT_EQ(contents->cut_bytes, static_cast<int64_t>(third.size() / 2));
  EXPECT_LT(fs::file_size(path), size);
  ASSERT_TRUE((*log)->Append({Put("d", h5, 4, 0.4f)}, {}).ok());
  auto again = IngestLog::Open(dir.path(), 4).value()->Replay();
  EXPECT_EQ(again->puts.size(), 3u);
  EXPECT_EQ(again->cut_bytes, 0);
  // A flipped byte ends the trusted part of a file where it is.
  LogRecords damaged = DecodeLogRecords(third.substr(0, 20) + "x" + third.substr(21), 4);
  EXPECT_TRUE(damaged.damaged);
  EXPECT_TRUE(damaged.puts.empty());
  EXPECT_TRUE(DecodeLogRecords(third, 8).puts.empty());  // another dimension
}

TEST(IngestLog, RetainRewritesOrRemovesAnHourAndACrashMidwayKeepsTheNewest) {
  testing::ScratchDir dir;
  const int64_t h5 = 1796360400;
  auto log = IngestLog::Open(dir.path(), 4);
  ASSERT_TRUE((*log)->Replay().ok());
  ASSERT_TRUE((*log)->Append({Put("a", h5, 1, 0.1f), Put("b", h5, 2, 0.2f)}, {}).ok());
  ASSERT_TRUE(
      (*log)->Retain("2026-12-04T05", [](const LoggedPut& p) { return p.listing.item_id == "b"; })
          .ok());
  EXPECT_FALSE(fs::exists(dir / "puts-2026-12-04T05.0.log"));
  EXPECT_TRUE(fs::exists(dir / "puts-2026-12-04T05.1.log"));
  ASSERT_TRUE((*log)->Append({Put("c", h5, 3, 0.3f)}, {}).ok());  // into generation 1
  // A crash after writing generation 2 but before removing 1: both exist;
  // replay trusts the newest and removes the other.
  fs::copy_file(dir / "puts-2026-12-04T05.1.log", dir / "puts-2026-12-04T05.2.log");
  {
    std::ofstream junk(dir / "puts-2026-12-04T05.3.log.tmp");
    junk << "half written";
  }
  auto replayed = IngestLog::Open(dir.path(), 4).value()->Replay();
  ASSERT_TRUE(replayed.ok());
  EXPECT_EQ(replayed->puts.size(), 2u);  // b and c
  EXPECT_FALSE(fs::exists(dir / "puts-2026-12-04T05.1.log"));
  EXPECT_FALSE(fs::exists(dir / "puts-2026-12-04T05.3.log.tmp"));
  auto reopened = IngestLog::Open(dir.path(), 4);
  ASSERT_TRUE((*reopened)->Replay().ok());
  ASSERT_TRUE((*reopened)->Retain("2026-12-04T05", [](const LoggedPut&) { return false; }).ok());
  EXPECT_TRUE((*reopened)->hours().empty());
  EXPECT_TRUE(IngestLog::Open(dir.path(), 4).value()->Replay()->puts.empty());
}

class HandoverTest : public ::testing::Test {
 protected:
  HandoverTest() : repo_(NewLocalStore(root_.path())) {}

  // Publishes a shard of `window` whose catalog was read at `read_at_ms`.
  int64_t Publish(const std::string& window, int p, int partitions, int64_t read_at_ms) {
    testing::ScratchDir files;
    std::ofstream(files / "index.faiss") << "x";
    ArtifactManifest m;
    m.dimension = 4;
    m.index = "faiss:Flat";
    if (read_at_ms > 0) m.inputs[kCatalogReadAtMs] = std::to_string(read_at_ms);
    auto published =
        repo_.Publish(ArtifactKey{"shard", "m@1", window, p, partitions}, m, {files / "index.faiss"});
    EXPECT_TRUE(published.ok()) << published.status();
    return published->version;
  }
  static Registration Reg(const std::string& window, int p, int partitions, int64_t version,
                          const std::string& address = "127.0.0.1:7001") {
    Registration r;
    r.address = address;
    r.model = "m@1";
    r.window = window;
    r.partition = p;
    r.partitions = partitions;
    r.version = version;
    return r;
  }

  testing::ScratchDir root_;
  Repository repo_;
};

TEST_F(HandoverTest, OnlyThePlannedWindowBuiltAfterTheEventTakesOver) {
  const int64_t t = 1796360400 + 600;  // 2026-12-04T05:10
  LiveListing listing{"item-7", t, /*event_ms=*/5000, "u", "5000-0"};
  Handover handover(&repo_, "m@1");
  EXPECT_EQ(handover.TakenOverBy(listing), "");  // nothing served
  const int64_t early = Publish("hour/2026-12-04T05", 0, 1, 4000);
  handover.SetServed({Reg("hour/2026-12-04T05", 0, 1, early)});
  EXPECT_EQ(handover.TakenOverBy(listing), "");  // built before the event
  const int64_t late = Publish("hour/2026-12-04T05", 0, 1, 6000);
  handover.SetServed({Reg("hour/2026-12-04T05", 0, 1, late)});
  EXPECT_EQ(handover.TakenOverBy(listing), "hour/2026-12-04T05/part-0-of-1@v2");
  // Mid-swap, one replica still serves the old version: not yet.
  handover.SetServed({Reg("hour/2026-12-04T05", 0, 1, late),
                      Reg("hour/2026-12-04T05", 0, 1, early, "127.0.0.1:7002")});
  EXPECT_EQ(handover.TakenOverBy(listing), "");
  // A complete day built from older features is what queries read: it wins
  // over the newer hour, and it lacks the listing.
  const int64_t day0 = Publish("day/2026-12-04", 0, 2, 3000);
  const int64_t day1 = Publish("day/2026-12-04", 1, 2, 7000);
  handover.SetServed({Reg("hour/2026-12-04T05", 0, 1, late), Reg("day/2026-12-04", 0, 2, day0),
                      Reg("day/2026-12-04", 1, 2, day1)});
  const int p = PartitionOf("item-7", 2);
  EXPECT_EQ(handover.TakenOverBy(listing),
            p == 1 ? "day/2026-12-04/part-1-of-2@v1" : "");  // only its partition counts
  // Half a day is not planned: the hour decides.
  handover.SetServed({Reg("hour/2026-12-04T05", 0, 1, late), Reg("day/2026-12-04", 0, 2, day0)});
  EXPECT_EQ(handover.TakenOverBy(listing), "hour/2026-12-04T05/part-0-of-1@v2");
  // A shard that does not say when its catalog was read never takes over.
  const int64_t unknown = Publish("hour/2026-12-04T05", 0, 1, 0);
  handover.SetServed({Reg("hour/2026-12-04T05", 0, 1, unknown)});
  EXPECT_EQ(handover.TakenOverBy(listing), "");
  // Without discovery: the newest published version of each shard.
  ASSERT_TRUE(handover.SetServedFromRepository().ok());
  EXPECT_EQ(handover.TakenOverBy(listing), p == 1 ? "day/2026-12-04/part-1-of-2@v1" : "");
}

}  // namespace
}  // namespace photosearch
