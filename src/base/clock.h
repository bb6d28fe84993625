// Wall-clock helpers. Thread-safe.
#pragma once

#include <cstdint>
#include <string>

namespace photosearch {

// The current UTC time as RFC 3339 with seconds, e.g. "2026-11-23T07:35:00Z".
std::string NowRfc3339();
// Seconds since the Unix epoch.
int64_t NowUnixSeconds();
// Milliseconds since the Unix epoch.
int64_t NowUnixMillis();
// Unix milliseconds as RFC 3339 in UTC with milliseconds,
// "2026-11-23T07:35:00.123Z".
std::string FormatRfc3339Millis(int64_t unix_ms);

}  // namespace photosearch
