#include "artifact/window.h"

#include <ctime>
#include <regex>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace photosearch {
namespace {

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

absl::StatusOr<TimeWindow> ParseTimeWindow(const std::string& name) {
  static const std::regex kHour(R"(hour/(\d{4})-(\d{2})-(\d{2})T(\d{2}))");
  static const std::regex kDay(R"(day/(\d{4})-(\d{2})-(\d{2}))");
  static const std::regex kMonth(R"(month/(\d{4})-(\d{2}))");
  std::smatch m;
  TimeWindow w;
  w.name = name;
  auto bad = [&] {
    return absl::InvalidArgumentError(absl::StrCat(
        "window '", name.substr(0, 64),
        "' must be hour/YYYY-MM-DDTHH, day/YYYY-MM-DD or month/YYYY-MM (UTC), and a real date"));
  };
  if (name.size() > 32) return bad();
  if (std::regex_match(name, m, kHour) || std::regex_match(name, m, kDay)) {
    int y = std::stoi(m[1]), mo = std::stoi(m[2]), d = std::stoi(m[3]);
    if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > DaysIn(y, mo)) return bad();
    if (m.size() > 4 && m[4].matched) {
      int h = std::stoi(m[4]);
      if (h > 23) return bad();
      w.kind = "hour";
      w.begin = UnixUtc(y, mo, d, h, 0, 0);
      w.end = w.begin + 3600;
    } else {
      w.kind = "day";
      w.begin = UnixUtc(y, mo, d, 0, 0, 0);
      w.end = w.begin + 86400;
    }
    return w;
  }
  if (std::regex_match(name, m, kMonth)) {
    int y = std::stoi(m[1]), mo = std::stoi(m[2]);
    if (y < 1970 || mo < 1 || mo > 12) return bad();
    w.kind = "month";
    w.begin = UnixUtc(y, mo, 1, 0, 0, 0);
    w.end = w.begin + int64_t{86400} * DaysIn(y, mo);
    return w;
  }
  return bad();
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

bool InPartition(const std::string& item_id, const Partition& partition) {
  uint64_t h = 14695981039346656037ull;
  for (unsigned char c : item_id) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return static_cast<int>(h % static_cast<uint64_t>(partition.count)) == partition.index;
}

}  // namespace photosearch
