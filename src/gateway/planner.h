// The query planner: which served shards a search over a time range reads,
// and which parts of the range no served shard covers.
//
// Shards are built per time window (hour, day, month; see artifact/window.h)
// and per hash partition, and several granularities of the same time may be
// served at once (the hours of today beside the days of last week beside the
// months of last year). The planner picks, for every instant of the asked
// range, the coarsest window whose partitions are all served, so that every
// item is searched exactly once.
//
// Pure logic over names: nothing here loads a shard or reads a clock.
// Thread-safety: plain values and pure functions, thread-safe.
#pragma once

#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace photosearch {

// A shard's coordinates without its version.
struct ShardId {
  std::string window;  // "all", "hour/2026-11-22T05", "day/2026-11-22", "month/2026-11", "live/a"
  int partition = 0;   // 0 <= partition < partitions
  int partitions = 1;

  // "<window>/part-<p>-of-<P>", e.g. "day/2026-11-22/part-0-of-4".
  std::string Name() const;

  auto operator<=>(const ShardId&) const = default;
};

// Parses what ShardId::Name() prints, and only that: the window must pass
// ValidateWindow, p and P are decimal without leading zeros, 0 <= p < P <=
// 99999. Errors: kInvalidArgument naming the (truncated, escaped) name.
absl::StatusOr<ShardId> ParseShardName(std::string_view name);

// The half-open interval [from, to) of unix seconds.
struct TimeRange {
  int64_t from = 0;
  int64_t to = 0;

  bool operator==(const TimeRange&) const = default;
};

// The longest closed range a client may ask for: ten years.
inline constexpr int64_t kMaxRangeSeconds = int64_t{3653} * 86400;

// Parses the `from` and `to` query parameters of a search; either may be empty.
//
// Each is RFC 3339 ("2026-11-22T05:30:00Z", "2026-11-22T06:30:00+01:00",
// fractions truncated) or a UTC date "YYYY-MM-DD". A date as `from` means its
// first second; a date as `to` means the end of that day (the next day's
// start), so from=2026-11-22&to=2026-11-22 asks for that whole day.
//
// Returns std::nullopt when both are empty (no range: everything served).
// An empty side is open and is returned as the sentinel INT64_MIN (`from`) or
// INT64_MAX (`to`); PlanQuery understands these.
//
// Errors, all kInvalidArgument with a message that names the parameter and
// echoes at most 40 bytes of its value (C-escaped): a value that is neither
// form, a time before 1970 or from year 10000 on (offsets applied), from >= to,
// and a closed range longer than kMaxRangeSeconds.
absl::StatusOr<std::optional<TimeRange>> ParseTimeRange(std::string_view from, std::string_view to);

// "2026-11-22T05:00:00Z": unix seconds t as RFC 3339 in UTC, whole seconds.
std::string FormatRfc3339(int64_t t);

struct QueryPlan {
  // The shards to search, sorted by ShardId, each once.
  std::vector<ShardId> shards;
  // The parts of the asked range that no planned dated shard covers:
  // ascending, disjoint, not adjacent (merged), clipped to the range. Empty
  // when no range was asked.
  std::vector<TimeRange> gaps;
};

// Chooses the shards to search for a query over `range` among `available`,
// the shards served now (in any order; duplicates are ignored, and so are
// shards whose name ParseShardName would refuse).
//
// A window is complete when, for some P, all partitions 0..P-1 of P are
// available; only complete windows are planned, with the smallest such P (so
// no item is in two planned shards), and never a partition of an incomplete
// window. For every instant of the range the coarsest complete window holding
// it is planned: a complete month whole, else the complete days of that month
// that intersect the range, else for each other day its complete hours that
// intersect the range; an hour that is not complete is a gap. A planned window
// is searched whole even when the range covers only part of it: shards keep
// no per-item time, so results may come from just outside the range, at most
// to the bounds of the windows that hold its ends.
//
// A complete "all" window (a folder index, undated) is always planned, with
// or without a range, and never fills a gap; so is every complete live window
// ("live/<name>", the listings of an ingest process that no batch shard
// serves yet: an item also in a planned window is answered once by the merge).
//
// Without a range (nullopt), every complete dated window chosen by the same
// descent over everything served is planned, and there are no gaps. With a
// range whose side is open (a sentinel from ParseTimeRange), the gaps are
// clipped on that side to the extent of the served dated windows (complete or
// not); if no dated window is served, an open range has no gaps. A closed
// range with nothing served is one gap.
//
// Cost: O(n log n) in the number of available shards, independent of the
// length of the range.
QueryPlan PlanQuery(const std::vector<ShardId>& available, const std::optional<TimeRange>& range);

}  // namespace photosearch
