// The PostgreSQL catalog source (libpq): the window's bounds are passed to the
// query as $1 and $2 (timestamptz, UTC), never spliced into its text.
#include <libpq-fe.h>

#include <algorithm>
#include <ctime>
#include <memory>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "base/json_fields.h"
#include "base/sha256.h"
#include "nlohmann/json.hpp"
#include "pipeline/catalog.h"

namespace photosearch {
namespace {

std::string Rfc3339(int64_t unix_seconds) {
  std::time_t t = static_cast<std::time_t>(unix_seconds);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buffer[32];
  std::strftime(buffer, sizeof(buffer), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buffer;
}

// PostgreSQL prints timestamptz as "2026-11-22 05:30:00+00" (or "+05:30").
std::string AsRfc3339(std::string text) {
  size_t sign = text.find_last_of("+-");
  if (sign != std::string::npos && sign > 10 && text.size() - sign == 3) text += ":00";
  return text;
}

}  // namespace

bool IsPostgresUrl(const std::string& url) {
  return absl::StartsWith(url, "postgresql://") || absl::StartsWith(url, "postgres://");
}

absl::StatusOr<CatalogRead> ReadPostgresCatalog(const std::string& conninfo,
                                                const std::string& query, const TimeWindow& window,
                                                const Partition& partition,
                                                const CatalogLimits& limits) {
  std::unique_ptr<PGconn, void (*)(PGconn*)> conn(PQconnectdb(conninfo.c_str()), PQfinish);
  if (PQstatus(conn.get()) != CONNECTION_OK) {
    // libpq's message names host and port, never the password.
    return absl::UnavailableError(absl::StrCat("PostgreSQL catalog: ", PQerrorMessage(conn.get())));
  }
  std::unique_ptr<PGresult, void (*)(PGresult*)> tz(PQexec(conn.get(), "SET TimeZone = 'UTC'"),
                                                    PQclear);
  const std::string begin = Rfc3339(window.begin), end = Rfc3339(window.end);
  const char* params[2] = {begin.c_str(), end.c_str()};
  std::unique_ptr<PGresult, void (*)(PGresult*)> result(
      PQexecParams(conn.get(), query.c_str(), 2, nullptr, params, nullptr, nullptr, 0), PQclear);
  if (PQresultStatus(result.get()) != PGRES_TUPLES_OK) {
    return absl::InvalidArgumentError(
        absl::StrCat("PostgreSQL catalog query failed: ", PQresultErrorMessage(result.get())));
  }
  const int rows = PQntuples(result.get()), columns = PQnfields(result.get());
  std::vector<std::string> names;
  for (int c = 0; c < columns; ++c) names.push_back(PQfname(result.get(), c));
  for (const char* required : {"item_id", "image_url", "listed_at"}) {
    if (std::find(names.begin(), names.end(), required) == names.end()) {
      return absl::InvalidArgumentError(
          absl::StrCat("PostgreSQL catalog query returns no '", required,
                       "' column (it needs item_id, image_url, listed_at)"));
    }
  }
  // The rows as JSONL records, through the same checks as a file catalog.
  std::string jsonl;
  for (int r = 0; r < rows; ++r) {
    nlohmann::json row = nlohmann::json::object();
    for (int c = 0; c < columns; ++c) {
      if (PQgetisnull(result.get(), r, c)) continue;
      std::string value = PQgetvalue(result.get(), r, c);
      row[names[c]] = names[c] == "listed_at" ? AsRfc3339(std::move(value)) : std::move(value);
    }
    jsonl += DumpJson(row) + "\n";
  }
  auto parsed = ParseCatalog(jsonl, "jsonl", window, partition, limits);
  if (!parsed.ok()) return parsed.status();
  parsed->source_sha256 = Sha256Hex(absl::StrCat(query, "\n", jsonl));
  return parsed;
}

}  // namespace photosearch
