// Catalogs and time windows: which listings a pipeline run indexes.
//
// A catalog is a JSONL file (one object per line) or a CSV file (a header row)
// with at least item_id, image_url and listed_at (RFC 3339); other fields are
// kept as attributes. It is read from a local path, file:// or s3://. Rows that
// cannot be used (missing field, bad time, over-long line, ...) are skipped and
// reported with their line number; they never stop the run.
//
// Windows and partitions (artifact/window.h) choose which rows a run keeps.
//
// Thread-safety: free functions, thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "artifact/window.h"

namespace photosearch {

struct CatalogItem {
  std::string item_id;
  std::string image_url;
  int64_t listed_at = 0;
  std::map<std::string, std::string> attributes;
};

struct CatalogRead {
  std::vector<CatalogItem> items;     // in the window and partition, in file order
  int64_t rows = 0;                   // data rows read
  int64_t outside = 0;                // valid rows outside the window or partition
  std::vector<std::string> rejected;  // "line 7: no image_url", at most 1000 kept
  int64_t rejected_count = 0;
  std::string source_sha256;  // of the catalog bytes (ReadCatalog), for resuming
};

struct CatalogLimits {
  uint64_t max_bytes = 1ull << 30;  // the whole file
  size_t max_line = 64 << 10;
  size_t max_field = 8 << 10;  // item_id and image_url
};

// Parses catalog text; `format` is "jsonl" or "csv".
absl::StatusOr<CatalogRead> ParseCatalog(std::string_view text, const std::string& format,
                                         const TimeWindow& window, const Partition& partition,
                                         const CatalogLimits& limits = {});

// A PostgreSQL catalog: `conninfo` is a libpq URL (postgresql://user@host:port/db;
// the password from $PGPASSWORD or ~/.pgpass), `query` returns item_id,
// image_url and listed_at (other columns become attributes) for listed_at in
// [$1, $2). The partition is applied to what it returns.
bool IsPostgresUrl(const std::string& url);
constexpr char kDefaultPostgresQuery[] =
    "SELECT * FROM listings WHERE listed_at >= $1 AND listed_at < $2 ORDER BY listed_at";
absl::StatusOr<CatalogRead> ReadPostgresCatalog(const std::string& conninfo,
                                                const std::string& query, const TimeWindow& window,
                                                const Partition& partition,
                                                const CatalogLimits& limits = {});

// Reads the catalog at `url` (path, file://, s3://); the format is taken from
// the name (.jsonl/.ndjson or .csv).
absl::StatusOr<CatalogRead> ReadCatalog(const std::string& url, const TimeWindow& window,
                                        const Partition& partition,
                                        const CatalogLimits& limits = {});

}  // namespace photosearch
