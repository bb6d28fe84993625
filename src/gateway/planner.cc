#include "gateway/planner.h"

#include <algorithm>
#include <charconv>
#include <ctime>
#include <iterator>
#include <limits>
#include <map>
#include <set>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "artifact/window.h"

namespace photosearch {
namespace {

constexpr int64_t kSecondsPerDay = 86400;
constexpr int64_t kYear10000 = int64_t{253402300800};  // 10000-01-01T00:00:00Z
constexpr int kMaxPartitions = 99999;                  // 5 digits, as ParsePartition

// Debian's abseil has its own string_view.
absl::string_view Sv(std::string_view s) { return absl::string_view(s.data(), s.size()); }

// At most 40 bytes of a client's value, escaped for messages and logs.
std::string Echo(std::string_view value) { return absl::CHexEscape(Sv(value.substr(0, 40))); }

// A window, parsed (ParseWindowSpan, which allocates nothing: the planner
// runs on every query), "all" included.
//
// Kinds are listed in the order their names sort ("all" < "day/" < "hour/" <
// "month/"), and within a kind names sort by time; so shards gathered per kind
// in time order come out sorted by ShardId without comparing strings.
enum Kind { kAll, kDay, kHour, kMonth, kKinds };
struct Window {
  Kind kind = kAll;
  int64_t begin = 0;        // unix seconds, inclusive; 0 for "all"
  int64_t end = 0;          // exclusive
  int64_t day_begin = 0;    // of the day holding it (hours and days)
  int64_t month_begin = 0;  // of the month holding it
  int64_t month_end = 0;
};

std::optional<Window> ParseWindow(std::string_view name) {
  if (name == "all") return Window{};
  std::optional<WindowSpan> span = ParseWindowSpan(name);
  if (!span) return std::nullopt;
  static constexpr Kind kKinds[] = {kHour, kDay, kMonth};  // by WindowSpan::Kind
  return Window{kKinds[span->kind], span->begin,       span->end,
                span->day_begin,    span->month_begin, span->month_end};
}

// One of `from` or `to`, never empty. A date as `to` is its day's end.
absl::StatusOr<int64_t> ParseBound(std::string_view param, std::string_view value) {
  auto bad = [&](std::string_view why) {
    return absl::InvalidArgumentError(absl::StrCat(Sv(param), " '", Echo(value), "' ", Sv(why)));
  };
  std::optional<int64_t> t;
  if (value.size() == 10) {  // YYYY-MM-DD
    std::optional<Window> day = ParseWindow(absl::StrCat("day/", Sv(value)));
    if (day) t = param == "to" ? day->end : day->begin;
  } else if (value.size() <= 40) {
    absl::StatusOr<int64_t> parsed = ParseRfc3339(std::string(value));
    if (parsed.ok()) t = *parsed;
  }
  if (!t) {
    return bad(
        "must be RFC 3339 (2026-11-22T05:30:00Z) or a date (2026-11-22), UTC, "
        "in the years 1970 to 9999");
  }
  if (*t < 0 || *t > kYear10000 || (*t == kYear10000 && param == "from")) {
    return bad("is outside the years 1970 to 9999 (UTC)");
  }
  return *t;
}

// A dated window the descent may visit: a complete one, or a month or day
// that merely holds something complete.
struct Slot {
  int64_t begin = 0;
  int64_t end = 0;
  const std::string* window = nullptr;  // set when the window is complete
  int partitions = 0;
};

// Adds an incomplete slot for [begin, end) that holds something complete,
// unless it was just added (windows arrive in time order per kind).
void AddHolder(std::vector<Slot>& slots, int64_t begin, int64_t end) {
  if (slots.empty() || slots.back().begin != begin) slots.push_back({begin, end});
}

// Sorts `slots` by time and keeps one per window, the complete one if any.
void SortAndDedupe(std::vector<Slot>& slots) {
  std::sort(slots.begin(), slots.end(), [](const Slot& a, const Slot& b) {
    if (a.begin != b.begin) return a.begin < b.begin;
    return a.window != nullptr && b.window == nullptr;
  });
  slots.erase(std::unique(slots.begin(), slots.end(),
                          [](const Slot& a, const Slot& b) { return a.begin == b.begin; }),
              slots.end());
}

// The first of `slots` (sorted, disjoint) that ends after t.
std::vector<Slot>::const_iterator FirstEndingAfter(const std::vector<Slot>& slots, int64_t t) {
  auto it = std::upper_bound(slots.begin(), slots.end(), t,
                             [](int64_t t, const Slot& slot) { return t < slot.begin; });
  if (it != slots.begin() && std::prev(it)->end > t) --it;
  return it;
}

}  // namespace

std::string ShardId::Name() const {
  return absl::StrCat(window, "/part-", partition, "-of-", partitions);
}

absl::StatusOr<ShardId> ParseShardName(std::string_view name) {
  auto bad = [&] {
    return absl::InvalidArgumentError(absl::StrCat(
        "shard name '", Echo(name), "' must be <window>/part-<p>-of-<P> with 0 <= p < P"));
  };
  const size_t slash = name.rfind("/part-");
  if (slash == std::string_view::npos) return bad();
  ShardId id;
  id.window = std::string(name.substr(0, slash));
  if (!ValidateServedWindow(id.window).ok()) return bad();
  std::string_view rest = name.substr(slash + 6);  // "<p>-of-<P>"
  const size_t of = rest.find("-of-");
  if (of == std::string_view::npos) return bad();
  // At most 5 digits (kMaxPartitions), no sign, no leading zero.
  auto number = [](std::string_view digits, int* out) {
    if (digits.empty() || digits.size() > 5 || (digits.size() > 1 && digits[0] == '0')) {
      return false;
    }
    if (!std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; })) {
      return false;
    }
    return std::from_chars(digits.data(), digits.data() + digits.size(), *out).ec == std::errc();
  };
  if (!number(rest.substr(0, of), &id.partition) || !number(rest.substr(of + 4), &id.partitions) ||
      id.partition >= id.partitions) {
    return bad();
  }
  return id;
}

absl::StatusOr<std::optional<TimeRange>> ParseTimeRange(std::string_view from,
                                                        std::string_view to) {
  if (from.empty() && to.empty()) return std::nullopt;
  TimeRange range{std::numeric_limits<int64_t>::min(), std::numeric_limits<int64_t>::max()};
  if (!from.empty()) {
    absl::StatusOr<int64_t> t = ParseBound("from", from);
    if (!t.ok()) return t.status();
    range.from = *t;
  }
  if (!to.empty()) {
    absl::StatusOr<int64_t> t = ParseBound("to", to);
    if (!t.ok()) return t.status();
    range.to = *t;
  }
  if (range.from >= range.to) {
    return absl::InvalidArgumentError(
        absl::StrCat("from '", Echo(from), "' is not before to '", Echo(to), "'"));
  }
  if (!from.empty() && !to.empty() && range.to - range.from > kMaxRangeSeconds) {
    return absl::InvalidArgumentError(absl::StrCat("range from '", Echo(from), "' to '", Echo(to),
                                                   "' is longer than ten years (3653 days)"));
  }
  return range;
}

std::string FormatRfc3339(int64_t t) {
  const std::time_t tt = static_cast<std::time_t>(t);
  std::tm tm{};
  if (gmtime_r(&tt, &tm) == nullptr) return absl::StrCat(t);
  return absl::StrFormat("%04d-%02d-%02dT%02d:%02d:%02dZ", tm.tm_year + 1900, tm.tm_mon + 1,
                         tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

QueryPlan PlanQuery(const std::vector<ShardId>& available, const std::optional<TimeRange>& range) {
  // The distinct well-formed shards, by window and partition count. This runs
  // on every query, so it sorts packed numbers rather than names: the bits of
  // a key are, high to low, kind (2), begin in hours (28, enough up to year
  // 9999), P (17) and p (17).
  constexpr int kWindowShift = 34, kPartitionsShift = 17;
  constexpr uint64_t kPartitionMask = (uint64_t{1} << kPartitionsShift) - 1;
  std::vector<std::pair<uint64_t, size_t>> keys;  // key, index in `available`
  keys.reserve(available.size());
  // Live shards (one per ingest process, each holding other listings) are
  // searched always, like "all": what they hold is not in any planned window
  // yet, and what is in both answers once (the merge keeps an item once).
  std::map<std::string_view, std::map<int, std::set<int>>> live;  // window -> P -> partitions
  for (size_t i = 0; i < available.size(); ++i) {
    const ShardId& id = available[i];
    if (id.partitions < 1 || id.partitions > kMaxPartitions || id.partition < 0 ||
        id.partition >= id.partitions) {
      continue;
    }
    if (IsLiveWindow(id.window)) {
      live[id.window][id.partitions].insert(id.partition);
      continue;
    }
    if (std::optional<Window> w = ParseWindow(id.window)) {
      const uint64_t window_key =
          (static_cast<uint64_t>(w->kind) << 28) | static_cast<uint64_t>(w->begin / 3600);
      keys.push_back({(window_key << kWindowShift) |
                          (static_cast<uint64_t>(id.partitions) << kPartitionsShift) |
                          static_cast<uint64_t>(id.partition),
                      i});
    }
  }
  std::sort(keys.begin(), keys.end());
  keys.erase(std::unique(keys.begin(), keys.end(),
                         [](const auto& a, const auto& b) { return a.first == b.first; }),
             keys.end());

  // Complete windows into slots. A month or day slot also exists, incomplete,
  // when something complete lies under it: only those are descended into.
  std::vector<ShardId> planned[kKinds];
  std::vector<Slot> slots[kKinds];  // slots[kAll] stays empty
  int64_t served_begin = std::numeric_limits<int64_t>::max();
  int64_t served_end = std::numeric_limits<int64_t>::min();
  for (size_t i = 0; i < keys.size();) {
    const std::string& name = available[keys[i].second].window;
    const Window window = *ParseWindow(name);
    if (window.kind != kAll) {
      served_begin = std::min(served_begin, window.begin);
      served_end = std::max(served_end, window.end);
    }
    const uint64_t window_key = keys[i].first >> kWindowShift;
    auto partitions_at = [&](size_t j) {  // P of keys[j], or 0 past this window
      if (j == keys.size() || keys[j].first >> kWindowShift != window_key) return 0;
      return static_cast<int>((keys[j].first >> kPartitionsShift) & kPartitionMask);
    };
    int complete_partitions = 0;  // the smallest P with all of 0..P-1 present
    while (const int partitions = partitions_at(i)) {
      int count = 0;  // distinct partitions of P, all in 0..P-1
      for (; partitions_at(i) == partitions; ++i) ++count;
      if (complete_partitions == 0 && count == partitions) complete_partitions = partitions;
    }
    if (complete_partitions == 0) continue;
    if (window.kind == kAll) {
      for (int p = 0; p < complete_partitions; ++p) {
        planned[kAll].push_back({name, p, complete_partitions});
      }
      continue;
    }
    slots[window.kind].push_back({window.begin, window.end, &name, complete_partitions});
    if (window.kind != kMonth) AddHolder(slots[kMonth], window.month_begin, window.month_end);
    if (window.kind == kHour) {
      AddHolder(slots[kDay], window.day_begin, window.day_begin + kSecondsPerDay);
    }
  }
  const std::vector<Slot>& months = slots[kMonth];
  const std::vector<Slot>& days = slots[kDay];
  const std::vector<Slot>& hours = slots[kHour];
  SortAndDedupe(slots[kMonth]);
  SortAndDedupe(slots[kDay]);

  // Descend from months to days to hours over [lo, hi), noting the time
  // covered, in order, for the gaps. Time only moves forward, and so do the
  // day and hour cursors: linear in the number of slots.
  const int64_t lo = range ? range->from : std::numeric_limits<int64_t>::min();
  const int64_t hi = range ? range->to : std::numeric_limits<int64_t>::max();
  std::vector<TimeRange> covered;
  auto use = [&](Kind kind, const Slot& slot) {
    for (int p = 0; p < slot.partitions; ++p) {
      planned[kind].push_back({*slot.window, p, slot.partitions});
    }
    covered.push_back({slot.begin, slot.end});
  };
  auto day = FirstEndingAfter(days, lo);
  auto hour = FirstEndingAfter(hours, lo);
  for (auto month = FirstEndingAfter(months, lo); month != months.end() && month->begin < hi;
       ++month) {
    if (month->window) {
      use(kMonth, *month);
      continue;
    }
    while (day != days.end() && day->end <= month->begin) ++day;  // under earlier months
    for (; day != days.end() && day->begin < std::min(hi, month->end); ++day) {
      if (day->window) {
        use(kDay, *day);
        continue;
      }
      while (hour != hours.end() && hour->end <= day->begin) ++hour;  // under earlier days
      for (; hour != hours.end() && hour->begin < std::min(hi, day->end); ++hour) {
        use(kHour, *hour);
      }
    }
  }
  QueryPlan plan;
  for (std::vector<ShardId>& shards : planned) {
    plan.shards.insert(plan.shards.end(), std::make_move_iterator(shards.begin()),
                       std::make_move_iterator(shards.end()));
  }
  if (!live.empty()) {
    for (const auto& [window, by_count] : live) {
      for (const auto& [partitions, present] : by_count) {  // the smallest complete P
        if (static_cast<int>(present.size()) != partitions) continue;
        for (int p = 0; p < partitions; ++p) plan.shards.push_back({std::string(window), p, partitions});
        break;
      }
    }
    std::sort(plan.shards.begin(), plan.shards.end());
  }
  if (!range) return plan;

  // Gaps: what of the range, clipped on an open side to the served extent,
  // the planned windows leave uncovered.
  const bool open_from = lo == std::numeric_limits<int64_t>::min();
  const bool open_to = hi == std::numeric_limits<int64_t>::max();
  if ((open_from || open_to) && served_begin >= served_end) return plan;  // nothing dated
  const int64_t gap_hi = open_to ? served_end : hi;
  int64_t cursor = open_from ? served_begin : lo;
  for (const TimeRange& c : covered) {
    if (c.from > cursor && cursor < gap_hi) plan.gaps.push_back({cursor, std::min(c.from, gap_hi)});
    cursor = std::max(cursor, c.to);
  }
  if (cursor < gap_hi) plan.gaps.push_back({cursor, gap_hi});
  return plan;
}

}  // namespace photosearch
