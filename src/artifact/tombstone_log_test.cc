#include "artifact/tombstone_log.h"

#include <filesystem>
#include <set>
#include <thread>

#include "absl/strings/str_cat.h"
#include "artifact/features.h"
#include "artifact/run_record.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "support/test_env.h"

namespace photosearch {
namespace {

using ::testing::HasSubstr;

TEST(TombstoneFiles, RoundTripAndEveryCorruptionIsDataLoss) {
  std::vector<Tombstone> batch = {{"a", 1}, {std::string(4096, 'x'), -7}, {"\xff\x00z", 9}};
  batch[2].item_id = std::string("\xff\0z", 3);
  const std::string bytes = EncodeTombstones(batch);
  auto decoded = DecodeTombstones(bytes);
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(*decoded, batch);
  // Any single flipped byte, any cut, and trailing bytes are refused.
  for (size_t i = 0; i < bytes.size(); i += 97) {
    std::string bad = bytes;
    bad[i] ^= 0x20;
    EXPECT_EQ(DecodeTombstones(bad).status().code(), absl::StatusCode::kDataLoss) << i;
  }
  for (size_t cut : {size_t{0}, size_t{8}, bytes.size() / 2, bytes.size() - 1}) {
    EXPECT_EQ(DecodeTombstones(bytes.substr(0, cut)).status().code(), absl::StatusCode::kDataLoss);
  }
  EXPECT_FALSE(DecodeTombstones(bytes + "x").ok());
}

TEST(TombstoneLog, TwoWritersNeverShareANumberAndReadersSeeEverything) {
  testing::ScratchDir root;
  auto store = NewLocalStore(root.path());
  TombstoneLog first(store.get()), second(store.get());
  std::set<int64_t> numbers;
  std::mutex mu;
  auto write = [&](TombstoneLog* log, const std::string& who) {
    for (int i = 0; i < 40; ++i) {
      auto seq = log->Append({{absl::StrCat(who, i), i}});
      ASSERT_TRUE(seq.ok()) << seq.status();
      std::lock_guard<std::mutex> lock(mu);
      EXPECT_TRUE(numbers.insert(*seq).second) << "number " << *seq << " taken twice";
    }
  };
  std::thread a(write, &first, "a"), b(write, &second, "b");
  a.join();
  b.join();
  EXPECT_EQ(*numbers.begin(), 1);
  EXPECT_EQ(*numbers.rbegin(), 80);  // no holes
  TombstoneSet set;
  TombstoneCursor cursor;
  TombstoneLog reader(store.get());
  auto read = reader.CatchUp(&set, &cursor);
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(*read, 80);
  EXPECT_EQ(set.items(), 80u);
  EXPECT_EQ(cursor.next, 81);
  EXPECT_EQ(reader.CatchUp(&set, &cursor).value(), 0);  // nothing new: one GET
  ASSERT_TRUE(first.Append({{"late", 5}}).ok());
  EXPECT_EQ(reader.CatchUp(&set, &cursor).value(), 1);
  EXPECT_TRUE(set.Hides("late", 5));
}

TEST(TombstoneLog, ANewReaderStartsFromTheSnapshotAndAWriterAfterIt) {
  testing::ScratchDir root;
  auto store = NewLocalStore(root.path());
  TombstoneLog log(store.get());
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(log.Append({{absl::StrCat("i", i), 100 + i}}).ok());
  TombstoneSet set;
  TombstoneCursor cursor;
  ASSERT_TRUE(log.CatchUp(&set, &cursor).ok());
  ASSERT_TRUE(log.Compact(set, cursor.next - 1).ok());
  ASSERT_TRUE(log.Compact(set, cursor.next - 1).ok());  // twice: the same snapshot
  // A writer that starts now finds the end without listing the log.
  TombstoneLog writer(store.get());
  EXPECT_EQ(writer.Append({{"i9", 1}}).value(), 6);
  TombstoneSet fresh;
  TombstoneCursor start;
  EXPECT_EQ(TombstoneLog(store.get()).CatchUp(&fresh, &start).value(), 2);  // snapshot + batch 6
  EXPECT_EQ(fresh.items(), 6u);
  EXPECT_EQ(start.next, 7);
  // A corrupt batch stops the reader with the key named; it does not skip it.
  ASSERT_TRUE(store->Put(TombstoneBatchKey(7), "junk").ok());
  auto bad = TombstoneLog(store.get()).CatchUp(&fresh, &start);
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(std::string(bad.status().message()), HasSubstr("tombstones/log/00000000000000000007"));
  EXPECT_EQ(start.next, 7);
}

TEST(TombstoneLog, RefusesBadBatches) {
  testing::ScratchDir root;
  auto store = NewLocalStore(root.path());
  TombstoneLog log(store.get());
  EXPECT_EQ(log.Append({}).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(log.Append({{"", 1}}).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(log.Append({{std::string(4097, 'a'), 1}}).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(Features, RoundTripWithAndWithoutListingTimes) {
  testing::ScratchDir dir;
  FeatureSet f;
  f.ids = {"a", "b"};
  f.vectors = {1, 0, 0, 1};
  f.listed_at = {10, 20};
  auto files = WriteFeatureFiles(dir.path(), f, 2);
  ASSERT_TRUE(files.ok()) << files.status();
  EXPECT_EQ(files->size(), 3u);
  auto back = ReadFeatureFiles(dir.path(), 2);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->ids, f.ids);
  EXPECT_EQ(back->vectors, f.vectors);
  EXPECT_EQ(back->listed_at, f.listed_at);
  EXPECT_EQ(ReadFeatureFiles(dir.path(), 3).status().code(), absl::StatusCode::kDataLoss);
  std::filesystem::remove(dir / kFeatureListedAtFile);
  EXPECT_TRUE(ReadFeatureFiles(dir.path(), 2)->listed_at.empty());  // written before times
  f.listed_at = {1};
  EXPECT_FALSE(WriteFeatureFiles(dir.path(), f, 2).ok());
}

TEST(RunRecord, RoundTripAndTypedReads) {
  PipelineRun run;
  run.run_id = "20261204T010203Z-hour-2026-11-22T05-p0of1-42";
  run.status = "succeeded";
  run.window = "hour/2026-11-22T05";
  run.partition = "0/1";
  run.tombstoned = 3;
  run.embedded = 7;
  run.failures = {{"x", "not an image"}};
  run.inputs = {{"catalog_read_at", "2026-12-04T01:02:03.456Z"}};
  run.steps.push_back({"embed", "embed", "succeeded", "", "7 embedded", 0.5, 1.25});
  auto parsed = ParseRunRecord(RunRecordJson(run));
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->run_id, run.run_id);
  EXPECT_EQ(parsed->tombstoned, 3);
  EXPECT_EQ(parsed->embedded, 7);
  EXPECT_EQ(parsed->failures, run.failures);
  EXPECT_EQ(parsed->inputs, run.inputs);
  ASSERT_EQ(parsed->steps.size(), 1u);
  EXPECT_EQ(parsed->steps[0].note, "7 embedded");
  EXPECT_DOUBLE_EQ(parsed->steps[0].seconds, 1.25);
  for (const char* bad : {R"({"counts": {"embedded": "7"}})", R"({"counts": {"embedded": -1}})",
                          R"({"window": 5})", R"({"steps": [1]})", R"([1])", "{",
                          R"({"outputs": {"shard_reused": 1}})", R"({"inputs": {"a": 1}})"}) {
    EXPECT_EQ(ParseRunRecord(bad).status().code(), absl::StatusCode::kDataLoss) << bad;
  }
  EXPECT_TRUE(ValidateRunId(run.run_id).ok());
  for (const char* bad : {"", "..", "a/b", "a b", "x\n"}) EXPECT_FALSE(ValidateRunId(bad).ok());
  testing::ScratchDir root;
  auto store = NewLocalStore(root.path());
  ASSERT_TRUE(WriteRunRecord(*store, run).ok());
  ASSERT_TRUE(store->Put("runs/notes.txt", "x").ok());
  EXPECT_THAT(ListRunIds(*store).value(), ::testing::ElementsAre(run.run_id));
  EXPECT_EQ(ReadRunRecord(*store, run.run_id)->embedded, 7);
}

}  // namespace
}  // namespace photosearch
