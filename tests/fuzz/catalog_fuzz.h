// Catalog rows (JSONL and CSV) as a pipeline reads them from a file, S3 or a
// URL: two targets (catalog_jsonl, catalog_csv) over the same parser. Checks:
// every item kept is inside the window and partition, has bounded fields and
// no control bytes in its id; rejected rows are counted, their reasons bounded.
#pragma once

#include "fuzz_target.h"
#include "pipeline/catalog.h"

namespace photosearch::fuzz {

inline void FuzzCatalog(std::string_view data, const char* format) {
  static const photosearch::TimeWindow window = *photosearch::ParseTimeWindow("day/2026-11-22");
  photosearch::Partition partition;
  if (data.size() % 2) partition = {1, 3};
  photosearch::CatalogLimits limits;
  limits.max_line = 4096;
  limits.max_field = 512;
  auto read = photosearch::ParseCatalog(data, format, window, partition, limits);
  if (!read.ok()) return;
  FuzzCheck(read->rejected.size() <= 1000, "rejected reasons unbounded");
  FuzzCheck(read->rejected_count >= static_cast<int64_t>(read->rejected.size()), "count");
  for (const photosearch::CatalogItem& item : read->items) {
    FuzzCheck(item.listed_at >= window.begin && item.listed_at < window.end, "outside the window");
    FuzzCheck(photosearch::InPartition(item.item_id, partition), "outside the partition");
    FuzzCheck(!item.item_id.empty() && item.item_id.size() <= limits.max_field, "item_id size");
    FuzzCheck(!item.image_url.empty() && item.image_url.size() <= limits.max_field, "url size");
    for (unsigned char c : item.item_id) FuzzCheck(c >= 0x20 && c != 0x7f, "control byte in id");
  }
}

}  // namespace photosearch::fuzz
