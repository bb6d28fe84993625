// Status helpers that Debian's abseil (20220623) does not ship.
//
//   RETURN_IF_ERROR(store.Put(key, bytes));
//   ASSIGN_OR_RETURN(auto shard, Shard::Open(path));
//   return Annotate(status, "loading shard " + id);
#pragma once

#include <string_view>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace photosearch {

// Returns `status` with `context` prepended to its message ("context: message"),
// keeping the code. OK stays OK.
absl::Status Annotate(const absl::Status& status, std::string_view context);

}  // namespace photosearch

#define PS_STATUS_CONCAT_INNER_(a, b) a##b
#define PS_STATUS_CONCAT_(a, b) PS_STATUS_CONCAT_INNER_(a, b)

#define RETURN_IF_ERROR(expr)                \
  do {                                       \
    ::absl::Status ps_status_ = (expr);      \
    if (!ps_status_.ok()) return ps_status_; \
  } while (0)

#define ASSIGN_OR_RETURN(lhs, rexpr) \
  PS_ASSIGN_OR_RETURN_IMPL_(PS_STATUS_CONCAT_(ps_statusor_, __LINE__), lhs, rexpr)

#define PS_ASSIGN_OR_RETURN_IMPL_(statusor, lhs, rexpr) \
  auto statusor = (rexpr);                              \
  if (!statusor.ok()) return statusor.status();         \
  lhs = std::move(statusor).value()
