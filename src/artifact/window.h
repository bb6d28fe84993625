// Time windows and hash partitions: the two coordinates of every shard and
// feature artifact, shared by the pipelines that build them, the servers that
// load them and the planner that chooses among them.
//
// A window is "hour/YYYY-MM-DDTHH", "day/YYYY-MM-DD" or "month/YYYY-MM" (UTC):
// the half-open interval [begin, end) of listed_at; "all" is the undated window
// of a folder index. A partition p of P keeps the items whose stable hash of
// item_id is p modulo P, so the P partitions of a window are disjoint and
// together hold all of it.
//
// Thread-safety: free functions, thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace photosearch {

struct TimeWindow {
  std::string name;   // "day/2026-11-22"
  std::string kind;   // hour | day | month
  int64_t begin = 0;  // unix seconds, inclusive
  int64_t end = 0;    // unix seconds, exclusive
  // The windows one level finer that exactly cover this one (24 hours of a
  // day, the days of a month); empty for an hour.
  std::vector<std::string> Children() const;
  // The window one level coarser that holds this one ("" for a month).
  std::string Parent() const;
};

// Hours, days and months from 1970 on; "all" is not a TimeWindow.
absl::StatusOr<TimeWindow> ParseTimeWindow(const std::string& name);

// What ParseTimeWindow reads from a name, without allocating (the planner
// parses every served shard's window on every query). Accepts and refuses
// exactly the names ParseTimeWindow does.
struct WindowSpan {
  enum Kind { kHour, kDay, kMonth } kind = kHour;
  int64_t begin = 0;        // unix seconds, inclusive
  int64_t end = 0;          // exclusive
  int64_t day_begin = 0;    // of the day holding it (for a month: its first day)
  int64_t month_begin = 0;  // of the month holding it
  int64_t month_end = 0;
};
std::optional<WindowSpan> ParseWindowSpan(std::string_view name);

// The windows of one kind ("hour", "day", "month") holding unix time t.
std::string WindowAt(const std::string& kind, int64_t t);

// Checks a window name: "all" or a window ParseTimeWindow accepts.
absl::Status ValidateWindow(const std::string& window);

// The live tier: "live/<name>", the listings an ingest process holds that no
// batch shard serves yet (name: 1..64 of [A-Za-z0-9._-], the consumer's).
// Never an artifact in a repository; served and registered like one.
bool IsLiveWindow(std::string_view window);
// What a served shard may be named by: ValidateWindow's, or a live window.
absl::Status ValidateServedWindow(const std::string& window);

// "2026-11-22T05:30:00Z", "2026-11-22T06:30:00+01:00", fractions allowed.
absl::StatusOr<int64_t> ParseRfc3339(const std::string& text);

struct Partition {
  int index = 0;
  int count = 1;
};
absl::StatusOr<Partition> ParsePartition(const std::string& text);  // "0/4"
// kInvalidArgument unless 0 <= index < count.
absl::Status ValidatePartition(const Partition& partition);
// Stable across runs and machines (FNV-1a 64 of the id).
bool InPartition(const std::string& item_id, const Partition& partition);
// The partition of `item_id` among `count` (REQUIRES: count >= 1).
int PartitionOf(std::string_view item_id, int count);

}  // namespace photosearch
