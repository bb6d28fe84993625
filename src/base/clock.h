// Wall-clock helpers. Thread-safe.
#pragma once

#include <cstdint>
#include <string>

namespace photosearch {

// The current UTC time as RFC 3339 with seconds, e.g. "2026-11-23T07:35:00Z".
std::string NowRfc3339();
// Seconds since the Unix epoch.
int64_t NowUnixSeconds();

}  // namespace photosearch
