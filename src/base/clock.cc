#include "base/clock.h"

#include <ctime>

namespace photosearch {

std::string NowRfc3339() {
  std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char buffer[32];
  std::strftime(buffer, sizeof(buffer), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buffer;
}

int64_t NowUnixSeconds() { return static_cast<int64_t>(std::time(nullptr)); }

}  // namespace photosearch
