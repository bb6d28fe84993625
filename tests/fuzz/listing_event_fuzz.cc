// A Redis stream entry as the ingest reads it: the bytes are split at NUL
// into the entry id and then field, value, field, value, ... Checks: an event
// that parses is within every bound; a refused one says why in a bounded,
// printable reason (it goes to the dead-letter stream and the log).
#include <string>

#include "fuzz_target.h"
#include "ingest/events.h"

using photosearch::fuzz::FuzzCheck;

PHOTOSEARCH_FUZZ_TARGET(listing_event) {
  std::vector<std::string> parts;
  size_t start = 0;
  for (size_t i = 0; i <= data.size(); ++i) {
    if (i == data.size() || data[i] == '\0') {
      parts.emplace_back(data.substr(start, i - start));
      start = i + 1;
    }
  }
  photosearch::StreamEntry entry;
  entry.id = parts[0];
  for (size_t i = 1; i + 1 < parts.size(); i += 2) entry.fields.emplace_back(parts[i], parts[i + 1]);
  entry.trimmed = parts.size() == 2 && parts[1] == "trimmed";
  absl::StatusOr<photosearch::ListingEvent> event = photosearch::ParseListingEvent(entry);
  if (!event.ok()) {
    FuzzCheck(event.status().code() == absl::StatusCode::kInvalidArgument, "reason not 400-ish");
    FuzzCheck(!event.status().message().empty() && event.status().message().size() < 600,
              "reason empty or unbounded");
    return;
  }
  FuzzCheck(!event->item_id.empty() && event->item_id.size() <= photosearch::kMaxItemIdBytes,
            "item id out of bounds");
  FuzzCheck(event->event_ms >= 0, "negative event time");
  if (event->op == photosearch::ListingEvent::Op::kPut) {
    FuzzCheck(!event->image_url.empty() && event->image_url.size() <= photosearch::kMaxImageUrlBytes,
              "image url out of bounds");
    FuzzCheck(event->listed_at >= 0 && event->listed_at < int64_t{253402300800},
              "listed_at outside 1970..9999");
    FuzzCheck(event->attrs.size() <= photosearch::kMaxAttrsBytes, "attrs unbounded");
  } else {
    FuzzCheck(event->deleted_at >= 0, "negative deleted_at");
  }
}
