#include "artifact/window.h"

#include <ctime>
#include <regex>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace photosearch {
namespace {

constexpr int64_t kSecondsPerDay = 86400;

bool IsLeap(int y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }
int DaysIn(int y, int m) {
  static const int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && IsLeap(y) ? 29 : kDays[m - 1];
}

int64_t UnixUtc(int y, int mo, int d, int h, int mi, int s) {
  std::tm tm{};
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = s;
  return static_cast<int64_t>(timegm(&tm));
}

// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's
// days_from_civil); m in 1..12. Pure arithmetic, unlike timegm.
int64_t DaysFromCivil(int64_t y, int m, int d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const int64_t yoe = y - era * 400;
  const int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

// Reads exactly the decimal digits text[pos, pos + n); -1 unless all are digits.
int Digits(std::string_view text, size_t pos, size_t n) {
  int value = 0;
  for (size_t i = pos; i < pos + n; ++i) {
    if (text[i] < '0' || text[i] > '9') return -1;
    value = value * 10 + (text[i] - '0');
  }
  return value;
}

std::tm Utc(int64_t t) {
  std::time_t tt = static_cast<std::time_t>(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  return tm;
}

}  // namespace

absl::StatusOr<int64_t> ParseRfc3339(const std::string& text) {
  static const std::regex kTime(
      R"((\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?([Zz]|([+-])(\d{2}):(\d{2})))");
  std::smatch m;
  if (text.size() > 40 || !std::regex_match(text, m, kTime)) {
    return absl::InvalidArgumentError(absl::StrCat("time '", text.substr(0, 40),
                                                   "' is not RFC 3339 (2026-11-22T05:30:00Z)"));
  }
  int y = std::stoi(m[1]), mo = std::stoi(m[2]), d = std::stoi(m[3]);
  int h = std::stoi(m[4]), mi = std::stoi(m[5]), s = std::stoi(m[6]);
  if (mo < 1 || mo > 12 || d < 1 || d > DaysIn(y, mo) || h > 23 || mi > 59 || s > 60) {
    return absl::InvalidArgumentError(absl::StrCat("time '", text, "' is not a valid time"));
  }
  int64_t t = UnixUtc(y, mo, d, h, mi, std::min(s, 59));
  if (m[9].matched) {
    int64_t offset = std::stoi(m[10]) * 3600 + std::stoi(m[11]) * 60;
    t += m[9] == "+" ? -offset : offset;
  }
  return t;
}

std::optional<WindowSpan> ParseWindowSpan(std::string_view name) {
  WindowSpan w;
  std::string_view date;  // "YYYY-MM", "YYYY-MM-DD" or "YYYY-MM-DDTHH"
  if (name.starts_with("month/") && name.size() == 13) {
    w.kind = WindowSpan::kMonth;
    date = name.substr(6);
  } else if (name.starts_with("day/") && name.size() == 14) {
    w.kind = WindowSpan::kDay;
    date = name.substr(4);
  } else if (name.starts_with("hour/") && name.size() == 18 && name[15] == 'T') {
    w.kind = WindowSpan::kHour;
    date = name.substr(5);
  } else {
    return std::nullopt;
  }
  if (date[4] != '-' || (w.kind != WindowSpan::kMonth && date[7] != '-')) return std::nullopt;
  const int y = Digits(date, 0, 4), m = Digits(date, 5, 2);
  const int d = w.kind == WindowSpan::kMonth ? 1 : Digits(date, 8, 2);
  const int h = w.kind == WindowSpan::kHour ? Digits(date, 11, 2) : 0;
  if (y < 1970 || m < 1 || m > 12 || d < 1 || d > DaysIn(y, m) || h < 0 || h > 23) {
    return std::nullopt;
  }
  w.month_begin = DaysFromCivil(y, m, 1) * kSecondsPerDay;
  w.month_end = w.month_begin + DaysIn(y, m) * kSecondsPerDay;
  w.day_begin = DaysFromCivil(y, m, d) * kSecondsPerDay;
  switch (w.kind) {
    case WindowSpan::kMonth:
      w.begin = w.month_begin;
      w.end = w.month_end;
      break;
    case WindowSpan::kDay:
      w.begin = w.day_begin;
      w.end = w.begin + kSecondsPerDay;
      break;
    case WindowSpan::kHour:
      w.begin = w.day_begin + h * int64_t{3600};
      w.end = w.begin + 3600;
      break;
  }
  return w;
}

absl::StatusOr<TimeWindow> ParseTimeWindow(const std::string& name) {
  std::optional<WindowSpan> span = ParseWindowSpan(name);
  if (!span) {
    return absl::InvalidArgumentError(absl::StrCat(
        "window '", name.substr(0, 64),
        "' must be hour/YYYY-MM-DDTHH, day/YYYY-MM-DD or month/YYYY-MM (UTC), and a real date"));
  }
  static constexpr const char* kKinds[] = {"hour", "day", "month"};
  return TimeWindow{name, kKinds[span->kind], span->begin, span->end};
}

std::string WindowAt(const std::string& kind, int64_t t) {
  std::tm tm = Utc(t);
  if (kind == "hour") {
    return absl::StrFormat("hour/%04d-%02d-%02dT%02d", tm.tm_year + 1900, tm.tm_mon + 1,
                           tm.tm_mday, tm.tm_hour);
  }
  if (kind == "day") {
    return absl::StrFormat("day/%04d-%02d-%02d", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
  }
  return absl::StrFormat("month/%04d-%02d", tm.tm_year + 1900, tm.tm_mon + 1);
}

std::vector<std::string> TimeWindow::Children() const {
  std::vector<std::string> out;
  if (kind == "hour") return out;
  const int64_t step = kind == "day" ? 3600 : 86400;
  for (int64_t t = begin; t < end; t += step) out.push_back(WindowAt(kind == "day" ? "hour" : "day", t));
  return out;
}

std::string TimeWindow::Parent() const {
  if (kind == "hour") return WindowAt("day", begin);
  if (kind == "day") return WindowAt("month", begin);
  return "";
}

absl::Status ValidateWindow(const std::string& window) {
  if (window == "all" || ParseTimeWindow(window).ok()) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(
      "window '", window.substr(0, 64),
      "' must be all, hour/YYYY-MM-DDTHH, day/YYYY-MM-DD or month/YYYY-MM (UTC), a real date"));
}

bool IsLiveWindow(std::string_view window) {
  constexpr std::string_view kLive = "live/";
  if (window.size() <= kLive.size() || window.size() > kLive.size() + 64 ||
      window.substr(0, kLive.size()) != kLive) {
    return false;
  }
  for (char c : window.substr(kLive.size())) {
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
          c == '.' || c == '_' || c == '-')) {
      return false;
    }
  }
  return window != "live/." && window != "live/..";
}

absl::Status ValidateServedWindow(const std::string& window) {
  if (IsLiveWindow(window) || ValidateWindow(window).ok()) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat("window '", window.substr(0, 64),
                   "' must be all, hour/YYYY-MM-DDTHH, day/YYYY-MM-DD, month/YYYY-MM (UTC, a real "
                   "date) or live/NAME"));
}

absl::StatusOr<Partition> ParsePartition(const std::string& text) {
  static const std::regex kPartition(R"((\d{1,5})/(\d{1,5}))");
  std::smatch m;
  if (!std::regex_match(text, m, kPartition) ||
      !ValidatePartition(Partition{std::stoi(m[1]), std::stoi(m[2])}).ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("partition '", text.substr(0, 32), "' must be p/P with 0 <= p < P, e.g. 0/4"));
  }
  return Partition{std::stoi(m[1]), std::stoi(m[2])};
}

absl::Status ValidatePartition(const Partition& partition) {
  if (partition.count < 1 || partition.index < 0 || partition.index >= partition.count) {
    return absl::InvalidArgumentError(absl::StrCat("partition ", partition.index, " of ",
                                                   partition.count, " is out of range"));
  }
  return absl::OkStatus();
}

int PartitionOf(std::string_view item_id, int count) {
  uint64_t h = 14695981039346656037ull;
  for (unsigned char c : item_id) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return static_cast<int>(h % static_cast<uint64_t>(count));
}

bool InPartition(const std::string& item_id, const Partition& partition) {
  return PartitionOf(item_id, partition.count) == partition.index;
}

}  // namespace photosearch
