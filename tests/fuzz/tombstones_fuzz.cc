// Tombstone batches and snapshots read from the repository (another process
// wrote them; the store may hold anything). Checks: bounded ids, and a file
// that decodes encodes back to the same bytes.
#include "artifact/tombstone_log.h"
#include "fuzz_target.h"

using photosearch::fuzz::FuzzCheck;

PHOTOSEARCH_FUZZ_TARGET(tombstones) {
  auto decoded = photosearch::DecodeTombstones(data);
  if (!decoded.ok()) {
    FuzzCheck(decoded.status().code() == absl::StatusCode::kDataLoss, "not DataLoss");
    return;
  }
  for (const photosearch::Tombstone& t : *decoded) {
    FuzzCheck(!t.item_id.empty() && t.item_id.size() <= 4096, "item id out of bounds");
  }
  FuzzCheck(photosearch::EncodeTombstones(*decoded) == data, "round trip changed the file");
}
