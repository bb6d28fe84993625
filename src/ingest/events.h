// Listing events: what the marketplace publishes on a Redis stream, and how
// the ingest reads them.
//
//   XADD listings * op put item_id ID image_url URL listed_at RFC3339 [attrs JSON]
//   XADD listings * op delete item_id ID [deleted_at RFC3339]
//
// A stream entry is untrusted input: ParseListingEvent checks every field and
// says what is wrong (the reason a bad event carries into the dead-letter
// stream). Fields it does not know are ignored; a field given twice is an
// error. A delete without deleted_at is dated by its entry id (the time the
// stream took it).
//
// Thread-safety: pure functions over values.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "ingest/redis_client.h"

namespace photosearch {

inline constexpr size_t kMaxItemIdBytes = 4096;
inline constexpr size_t kMaxImageUrlBytes = 8192;
inline constexpr size_t kMaxAttrsBytes = 64 << 10;
inline constexpr size_t kMaxEventFields = 64;

// One entry of a stream as XREADGROUP or XAUTOCLAIM return it.
struct StreamEntry {
  std::string id;  // "<ms>-<seq>"
  std::vector<std::pair<std::string, std::string>> fields;
  // The entry is still pending but its body was trimmed from the stream
  // (MAXLEN/XTRIM ignore consumer groups): XREADGROUP answers nil for it,
  // XAUTOCLAIM lists its id as deleted.
  bool trimmed = false;
};

// The entries of an XREADGROUP reply for one stream ([[stream, [[id,
// [f, v, ...]] | [id, nil], ...]]] or nil when nothing came).
absl::StatusOr<std::vector<StreamEntry>> ParseReadReply(const RedisReply& reply);
// XAUTOCLAIM's reply (7.0: [cursor, entries, deleted ids]): the entries
// claimed (the deleted ones as trimmed), and the cursor to continue from.
absl::StatusOr<std::vector<StreamEntry>> ParseAutoClaimReply(const RedisReply& reply,
                                                             std::string* cursor);

struct ListingEvent {
  enum class Op { kPut, kDelete };
  Op op = Op::kPut;
  std::string event_id;  // the stream entry id
  int64_t event_ms = 0;  // its time
  std::string item_id;
  std::string image_url;   // put
  int64_t listed_at = 0;   // put: unix seconds
  int64_t deleted_at = 0;  // delete: unix seconds
  std::string attrs;       // put: a JSON object, or ""
};

// kInvalidArgument with the reason when the entry is not a valid event.
absl::StatusOr<ListingEvent> ParseListingEvent(const StreamEntry& entry);

// The milliseconds of an entry id "<ms>-<seq>"; kInvalidArgument otherwise.
absl::StatusOr<int64_t> StreamIdMillis(const std::string& id);

}  // namespace photosearch
