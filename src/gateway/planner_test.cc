#include "gateway/planner.h"

#include <chrono>
#include <cstdio>
#include <limits>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "artifact/window.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace photosearch {
namespace {

using ::testing::ElementsAre;
using ::testing::ElementsAreArray;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using ::testing::StartsWith;

constexpr int64_t kMin = std::numeric_limits<int64_t>::min();
constexpr int64_t kMax = std::numeric_limits<int64_t>::max();

// "<window>*<P>": all P partitions of a window; anything else: one shard name.
std::vector<std::string> Expand(const std::vector<std::string>& specs) {
  std::vector<std::string> names;
  for (const std::string& spec : specs) {
    const size_t star = spec.find('*');
    if (star == std::string::npos) {
      names.push_back(spec);
      continue;
    }
    const int partitions = std::stoi(spec.substr(star + 1));
    for (int p = 0; p < partitions; ++p) {
      names.push_back(ShardId{spec.substr(0, star), p, partitions}.Name());
    }
  }
  return names;
}

// The complete hours [first, last] of a day, "day" as "2026-11-22".
std::vector<std::string> Hours(const std::string& day, int first, int last) {
  std::vector<std::string> specs;
  for (int h = first; h <= last; ++h) specs.push_back(absl::StrFormat("hour/%sT%02d*1", day, h));
  return specs;
}

std::vector<std::string> Concat(std::vector<std::vector<std::string>> parts) {
  std::vector<std::string> all;
  for (auto& part : parts) all.insert(all.end(), part.begin(), part.end());
  return all;
}

std::vector<std::string> Names(const QueryPlan& plan) {
  std::vector<std::string> names;
  for (const ShardId& id : plan.shards) names.push_back(id.Name());
  return names;
}

std::vector<std::string> Gaps(const QueryPlan& plan) {
  std::vector<std::string> gaps;
  for (const TimeRange& gap : plan.gaps) {
    gaps.push_back(absl::StrCat(FormatRfc3339(gap.from), "..", FormatRfc3339(gap.to)));
  }
  return gaps;
}

struct PlanCase {
  std::string name;
  std::vector<std::string> served;  // specs for Expand
  std::string from, to;             // as a client sends them; both empty: no range
  std::vector<std::string> shards;  // specs for Expand, in ShardId order
  std::vector<std::string> gaps;    // "from..to"
};

class PlanQueryTest : public ::testing::TestWithParam<PlanCase> {};

TEST_P(PlanQueryTest, PlansExactShardsAndGaps) {
  const PlanCase& c = GetParam();
  std::vector<ShardId> available;
  for (const std::string& name : Expand(c.served)) {
    absl::StatusOr<ShardId> id = ParseShardName(name);
    ASSERT_TRUE(id.ok()) << id.status();
    available.push_back(*id);
  }
  absl::StatusOr<std::optional<TimeRange>> range = ParseTimeRange(c.from, c.to);
  ASSERT_TRUE(range.ok()) << range.status();
  const QueryPlan plan = PlanQuery(available, *range);
  EXPECT_THAT(Names(plan), ElementsAreArray(Expand(c.shards)));
  EXPECT_THAT(Gaps(plan), ElementsAreArray(c.gaps));
}

INSTANTIATE_TEST_SUITE_P(
    Planner, PlanQueryTest,
    ::testing::Values(
        PlanCase{"HoursOnly",
                 {"hour/2026-11-22T05*1", "hour/2026-11-22T06*2", "hour/2026-11-22T08*1"},
                 "2026-11-22T05:30:00Z",
                 "2026-11-22T08:30:00Z",
                 {"hour/2026-11-22T05*1", "hour/2026-11-22T06*2", "hour/2026-11-22T08*1"},
                 {"2026-11-22T07:00:00Z..2026-11-22T08:00:00Z"}},
        PlanCase{"MonthThenDaysThenHours",
                 Concat({{"month/2026-10*2", "day/2026-11-01*4", "day/2026-11-02*1"},
                         Hours("2026-11-03", 0, 2)}),
                 "2026-10-01",
                 "2026-11-03T03:00:00Z",
                 Concat({{"day/2026-11-01*4", "day/2026-11-02*1"},
                         Hours("2026-11-03", 0, 2),
                         {"month/2026-10*2"}}),
                 {}},
        PlanCase{"DayMissingAPartitionFallsBackToHours",
                 Concat({{"day/2026-11-22/part-0-of-4", "day/2026-11-22/part-1-of-4",
                          "day/2026-11-22/part-3-of-4"},
                         Hours("2026-11-22", 0, 9),
                         Hours("2026-11-22", 12, 23)}),
                 "2026-11-22",
                 "2026-11-22",
                 Concat({Hours("2026-11-22", 0, 9), Hours("2026-11-22", 12, 23)}),
                 {"2026-11-22T10:00:00Z..2026-11-22T12:00:00Z"}},
        PlanCase{"CompleteMonthHidesItsDaysAndHours",
                 Concat({{"month/2026-11*1", "day/2026-11-22*4"}, Hours("2026-11-22", 0, 23)}),
                 "2026-11-22",
                 "2026-11-22",
                 {"month/2026-11*1"},
                 {}},
        PlanCase{"SmallestCompletePartitionCount",
                 {"day/2026-11-22*4", "day/2026-11-22*1", "day/2026-11-23*4",
                  "day/2026-11-23/part-0-of-2", "day/2026-11-24*3", "day/2026-11-24*3"},
                 "2026-11-22",
                 "2026-11-24",
                 {"day/2026-11-22*1", "day/2026-11-23*4", "day/2026-11-24*3"},
                 {}},
        PlanCase{"GapsInTheMiddleAndAtBothEnds",
                 {"hour/2026-11-22T05*1", "hour/2026-11-22T08*1"},
                 "2026-11-22T03:00:00Z",
                 "2026-11-22T11:00:00Z",
                 {"hour/2026-11-22T05*1", "hour/2026-11-22T08*1"},
                 {"2026-11-22T03:00:00Z..2026-11-22T05:00:00Z",
                  "2026-11-22T06:00:00Z..2026-11-22T08:00:00Z",
                  "2026-11-22T09:00:00Z..2026-11-22T11:00:00Z"}},
        PlanCase{"MonthEndWithHours",
                 Concat({Hours("2026-11-30", 18, 23), Hours("2026-12-01", 0, 0),
                         Hours("2026-12-01", 2, 5)}),
                 "2026-11-30T20:00:00Z",
                 "2026-12-01T04:00:00Z",
                 Concat({Hours("2026-11-30", 20, 23), Hours("2026-12-01", 0, 0),
                         Hours("2026-12-01", 2, 3)}),
                 {"2026-12-01T01:00:00Z..2026-12-01T02:00:00Z"}},
        PlanCase{"MonthEndWithDays",
                 {"day/2026-11-29*1", "day/2026-11-30*2", "day/2026-12-01*2", "day/2026-12-02*1"},
                 "2026-11-30T20:00:00Z",
                 "2026-12-01T04:00:00Z",
                 {"day/2026-11-30*2", "day/2026-12-01*2"},
                 {}},
        PlanCase{"MonthEndWithDayThenMonth",
                 {"day/2026-11-30*1", "month/2026-12*1"},
                 "2026-11-30T20:00:00Z",
                 "2026-12-01T04:00:00Z",
                 {"day/2026-11-30*1", "month/2026-12*1"},
                 {}},
        PlanCase{"NothingServedClosedRange",
                 {},
                 "2026-11-22",
                 "2026-11-23",
                 {},
                 {"2026-11-22T00:00:00Z..2026-11-24T00:00:00Z"}},
        PlanCase{"NothingServedNoRange", {}, "", "", {}, {}},
        PlanCase{"NothingServedOpenRange", {"all/part-0-of-2"}, "2026-11-22", "", {}, {}},
        PlanCase{"AllIsPlannedBesideARange",
                 {"all*2", "hour/2026-11-22T05*1"},
                 "2026-11-23",
                 "2026-11-23",
                 {"all*2"},
                 {"2026-11-23T00:00:00Z..2026-11-24T00:00:00Z"}},
        PlanCase{"AllIsPlannedWithoutARange",
                 {"all*1", "all/part-0-of-4", "hour/2026-11-22T05*1"},
                 "",
                 "",
                 {"all*1", "hour/2026-11-22T05*1"},
                 {}},
        PlanCase{"IncompleteAllIsNotPlanned", {"all/part-1-of-2"}, "", "", {}, {}},
        PlanCase{"NoRangeHoursDayMonth",
                 Concat({{"month/2026-10*1", "hour/2026-10-05T03*1", "day/2026-11-22*4",
                          "day/2026-11-23/part-0-of-2", "hour/2026-11-22T07*1",
                          "month/2026-12/part-0-of-2"},
                         Hours("2026-11-23", 1, 2)}),
                 "",
                 "",
                 Concat({{"day/2026-11-22*4"}, Hours("2026-11-23", 1, 2), {"month/2026-10*1"}}),
                 {}},
        PlanCase{"OpenToClipsToTheServedExtent",
                 {"hour/2026-11-22T05*1", "hour/2026-11-22T08*1", "day/2026-11-23/part-0-of-2"},
                 "2026-11-22T06:00:00Z",
                 "",
                 {"hour/2026-11-22T08*1"},
                 {"2026-11-22T06:00:00Z..2026-11-22T08:00:00Z",
                  "2026-11-22T09:00:00Z..2026-11-24T00:00:00Z"}},
        PlanCase{"OpenFromClipsToTheServedExtent",
                 {"hour/2026-11-22T05*1", "hour/2026-11-22T08*1"},
                 "",
                 "2026-11-22T07:00:00Z",
                 {"hour/2026-11-22T05*1"},
                 {"2026-11-22T06:00:00Z..2026-11-22T07:00:00Z"}},
        PlanCase{
            "OpenRangeBeyondEverythingServed", {"hour/2026-11-22T05*1"}, "2026-12-01", "", {}, {}}),
    [](const ::testing::TestParamInfo<PlanCase>& info) { return info.param.name; });

TEST(PlanQuery, IgnoresMalformedShards) {
  const std::vector<ShardId> available = {
      {"hour/2026-02-30T01", 0, 1}, {"garbage", 0, 1},        {"day/2026-11-22", 2, 2},
      {"day/2026-11-22", -1, 1},    {"day/2026-11-23", 0, 0}, {"hour/1969-12-31T23", 0, 1},
      {"hour/2026-11-22T5", 0, 1},  {"day/2026-11-24", 0, 1}};
  const QueryPlan plan = PlanQuery(available, std::nullopt);
  EXPECT_THAT(Names(plan), ElementsAre("day/2026-11-24/part-0-of-1"));
  EXPECT_THAT(Gaps(plan), IsEmpty());
}

TEST(PlanQuery, LiveShardsAreAlwaysSearchedAndFillNoGap) {
  std::vector<ShardId> available;
  for (const std::string& name :
       Expand({"live/ingest-a*1", "live/ingest-b*1", "day/2026-11-22*1", "all*1"})) {
    available.push_back(*ParseShardName(name));
  }
  available.push_back({"live/../x", 0, 1});  // not a live name: ignored
  available.push_back({"live/half", 0, 2});  // incomplete: not planned
  const QueryPlan everything = PlanQuery(available, std::nullopt);
  EXPECT_THAT(Names(everything),
              ElementsAre("all/part-0-of-1", "day/2026-11-22/part-0-of-1",
                          "live/ingest-a/part-0-of-1", "live/ingest-b/part-0-of-1"));
  auto range = ParseTimeRange("2026-11-23", "2026-11-23");
  const QueryPlan next_day = PlanQuery(available, *range);
  EXPECT_THAT(Names(next_day), ElementsAre("all/part-0-of-1", "live/ingest-a/part-0-of-1",
                                           "live/ingest-b/part-0-of-1"));
  EXPECT_THAT(Gaps(next_day), ElementsAre("2026-11-23T00:00:00Z..2026-11-24T00:00:00Z"));
  EXPECT_TRUE(ParseShardName("live/ingest-a/part-0-of-1").ok());
  EXPECT_FALSE(ParseShardName("live//part-0-of-1").ok());
  EXPECT_FALSE(ParseShardName("live/a b/part-0-of-1").ok());
}

TEST(PlanQuery, TenYearsOfScatteredHours) {
  // 1000 hours, one every ~3.65 days, over ten years; a month and a day too.
  const int64_t begin = 1451606400;  // 2016-01-01T00:00:00Z
  std::vector<ShardId> available;
  for (int i = 0; i < 1000; ++i) {
    const int64_t t = begin + 5000 + i * int64_t{315576};  // not aligned: varied hours
    available.push_back({WindowAt("hour", t), 0, 1});
  }
  available.push_back({"month/2020-02", 0, 1});
  available.push_back({"day/2023-07-04", 0, 1});
  auto range = ParseTimeRange("2016-01-01", "2025-12-31");
  ASSERT_TRUE(range.ok()) << range.status();

  const auto start = std::chrono::steady_clock::now();
  const int kRuns = 100;
  QueryPlan plan;
  for (int run = 0; run < kRuns; ++run) plan = PlanQuery(available, *range);
  const auto elapsed = std::chrono::steady_clock::now() - start;
  std::printf("PlanQuery over ten years, 1002 shards: %.1f us per plan\n",
              std::chrono::duration<double, std::micro>(elapsed).count() / kRuns);

  int hours = 0;
  for (const ShardId& id : plan.shards) hours += id.window.starts_with("hour/");
  EXPECT_GT(hours, 980);  // those under 2020-02 and 2023-07-04 are hidden
  EXPECT_EQ(plan.shards.size(), static_cast<size_t>(hours) + 2);
  EXPECT_GT(plan.gaps.size(), 900u);
  EXPECT_EQ(plan.gaps.front().from, range->value().from);
  for (size_t i = 1; i < plan.gaps.size(); ++i) {
    EXPECT_LT(plan.gaps[i - 1].to, plan.gaps[i].from);  // ascending and merged
  }
}

struct RangeCase {
  std::string from, to;
  std::string want;  // "from..to" with "-inf"/"+inf", "none", or "error: <substring>"
};

std::string Describe(const absl::StatusOr<std::optional<TimeRange>>& range) {
  if (!range.ok()) return absl::StrCat("error: ", range.status().message());
  if (!range->has_value()) return "none";
  auto bound = [](int64_t t) { return t == kMin ? "-inf" : t == kMax ? "+inf" : FormatRfc3339(t); };
  return absl::StrCat(bound((*range)->from), "..", bound((*range)->to));
}

TEST(ParseTimeRange, AcceptsDatesAndTimesAndRefusesTheRest) {
  const std::vector<RangeCase> cases = {
      {"", "", "none"},
      {"2026-11-22", "2026-11-22", "2026-11-22T00:00:00Z..2026-11-23T00:00:00Z"},
      {"2026-11-22T06:30:00+01:00", "2026-11-22T07:00:00Z",
       "2026-11-22T05:30:00Z..2026-11-22T07:00:00Z"},
      {"2026-11-22T05:30:00.75Z", "2026-11-22T01:00:00-05:00",
       "2026-11-22T05:30:00Z..2026-11-22T06:00:00Z"},
      {"2026-11-22", "", "2026-11-22T00:00:00Z..+inf"},
      {"", "2026-11-22", "-inf..2026-11-23T00:00:00Z"},
      {"1970-01-01", "9999-12-31", "error: longer than ten years"},
      {"2016-01-01", "2025-12-31", "2016-01-01T00:00:00Z..2026-01-01T00:00:00Z"},
      {"2016-01-01", "2026-01-01", "error: range from '2016-01-01' to '2026-01-01' is longer"},
      {"9999-12-31", "9999-12-31", "9999-12-31T00:00:00Z..10000-01-01T00:00:00Z"},
      {"2026-11-22T05:00:00Z", "2026-11-22T05:00:00Z",
       "error: from '2026-11-22T05:00:00Z' is not before to '2026-11-22T05:00:00Z'"},
      {"2026-11-23", "2026-11-22", "error: from '2026-11-23' is not before to '2026-11-22'"},
      {"yesterday", "", "error: from 'yesterday' must be RFC 3339"},
      {"", "2026-13-01", "error: to '2026-13-01' must be RFC 3339"},
      {"2026-02-29", "", "error: from '2026-02-29' must be"},
      {"2026-11-22T05:30Z", "", "error: from '2026-11-22T05:30Z' must be"},
      {" 2026-11-22", "", "error: from ' 2026-11-22' must be"},
      {"1969-12-31", "", "error: from '1969-12-31' must be"},
      {"1970-01-01T00:30:00+01:00", "", "error: from '1970-01-01T00:30:00+01:00' is outside"},
      {"", "9999-12-31T23:30:00-01:00", "error: to '9999-12-31T23:30:00-01:00' is outside"},
      {"2026-11-22\x01\xff", "", "error: from '2026-11-22\\x01\\xff' must be"},
  };
  for (const RangeCase& c : cases) {
    const std::string got = Describe(ParseTimeRange(c.from, c.to));
    if (c.want.starts_with("error: ")) {
      EXPECT_THAT(got, StartsWith("error: ")) << c.from << " " << c.to;
      EXPECT_THAT(got, HasSubstr(c.want.substr(7))) << c.from << " " << c.to;
    } else {
      EXPECT_EQ(got, c.want) << c.from << " " << c.to;
    }
  }
}

TEST(ParseTimeRange, EchoesAtMost40BytesOfAValue) {
  const std::string long_value = "2026-11-22T05:30:00Z" + std::string(100, 'x');
  const std::string got = Describe(ParseTimeRange("", long_value));
  EXPECT_THAT(got, HasSubstr("to '2026-11-22T05:30:00Z" + std::string(20, 'x') + "'"));
  EXPECT_THAT(got, Not(HasSubstr(std::string(21, 'x'))));
}

TEST(TimeRangeFormat, FormatRfc3339PrintsUtcSeconds) {
  EXPECT_EQ(FormatRfc3339(0), "1970-01-01T00:00:00Z");
  EXPECT_EQ(FormatRfc3339(1795322096), "2026-11-22T04:34:56Z");
}

TEST(ParseShardName, RoundTripsWhatNamePrints) {
  for (const ShardId& id : std::vector<ShardId>{{"all", 0, 1},
                                                {"hour/2026-11-22T05", 3, 4},
                                                {"day/2026-11-22", 0, 4},
                                                {"month/2026-11", 99998, 99999}}) {
    absl::StatusOr<ShardId> parsed = ParseShardName(id.Name());
    ASSERT_TRUE(parsed.ok()) << parsed.status();
    EXPECT_EQ(*parsed, id);
    EXPECT_EQ(parsed->Name(), id.Name());
  }
  EXPECT_EQ((ShardId{"day/2026-11-22", 0, 4}).Name(), "day/2026-11-22/part-0-of-4");
}

TEST(ParseShardName, RefusesAnythingElse) {
  for (const std::string name :
       {"", "all", "day/2026-11-22", "day/2026-11-22/part-4-of-4", "day/2026-11-22/part-01-of-4",
        "day/2026-11-22/part--1-of-4", "day/2026-11-22/part-+1-of-4", "day/2026-11-22/part-0-of-0",
        "day/2026-11-22/part-0-of-100000", "day/2026-11-22/part-0-of-4x",
        "day/2026-11-22/part-0-of-4/", "day/2026-11-22/part-0-of-", "day/2026-11-32/part-0-of-1",
        "week/2026-47/part-0-of-1", " all/part-0-of-1", "all/part-0-4",
        "all/part-0-of-1/part-0-of-1"}) {
    absl::StatusOr<ShardId> parsed = ParseShardName(name);
    EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument) << name;
  }
  EXPECT_THAT(ParseShardName(std::string(200, 'y')).status().message(),
              Not(HasSubstr(std::string(41, 'y'))));
}

}  // namespace
}  // namespace photosearch
