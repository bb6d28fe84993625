// Process-wide logging setup (spdlog to stderr). Call once from main().
#pragma once

#include <string>

#include "absl/status/status.h"

namespace photosearch {

// `level` is one of trace, debug, info, warn, error, off.
absl::Status InitLogging(const std::string& level);

}  // namespace photosearch
