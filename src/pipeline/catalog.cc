#include "pipeline/catalog.h"

#include <ctime>
#include <regex>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "artifact/s3_store.h"
#include "base/files.h"
#include "base/json_fields.h"
#include "base/sha256.h"
#include "base/status_macros.h"
#include "nlohmann/json.hpp"

namespace photosearch {
namespace {

constexpr size_t kMaxRejectedKept = 1000;

struct Row {
  int64_t line = 0;
  std::map<std::string, std::string> fields;
};

void Reject(CatalogRead* read, int64_t line, const std::string& why) {
  ++read->rejected_count;
  if (read->rejected.size() < kMaxRejectedKept)
    read->rejected.push_back(absl::StrCat("line ", line, ": ", why));
}

bool HasControlBytes(const std::string& s) {
  for (unsigned char c : s) {
    if (c < 0x20 || c == 0x7f) return true;
  }
  return false;
}

// Turns a row into an item, or says why not.
std::string ToItem(Row row, const CatalogLimits& limits, CatalogItem* item) {
  for (const char* field : {"item_id", "image_url", "listed_at"}) {
    auto it = row.fields.find(field);
    if (it == row.fields.end() || it->second.empty()) return absl::StrCat("no ", field);
  }
  item->item_id = std::move(row.fields["item_id"]);
  item->image_url = std::move(row.fields["image_url"]);
  if (item->item_id.size() > limits.max_field || item->image_url.size() > limits.max_field) {
    return absl::StrCat("item_id or image_url longer than ", limits.max_field, " bytes");
  }
  if (HasControlBytes(item->item_id)) return "item_id has control characters";
  auto listed = ParseRfc3339(row.fields["listed_at"]);
  if (!listed.ok()) return absl::StrCat("listed_at: ", listed.status().message());
  item->listed_at = *listed;
  row.fields.erase("item_id");
  row.fields.erase("image_url");
  row.fields.erase("listed_at");
  item->attributes = std::move(row.fields);
  return "";
}

// RFC 4180: quoted fields may hold commas, doubled quotes and newlines.
absl::Status ParseCsv(std::string_view text, const CatalogLimits& limits,
                      const std::function<void(Row)>& emit, CatalogRead* read) {
  std::vector<std::string> header;
  std::vector<std::string> record;
  std::string field;
  bool quoted = false, field_started = false;
  int64_t line = 1, record_line = 1;
  size_t record_bytes = 0;
  auto end_record = [&] {
    record.push_back(std::move(field));
    field.clear();
    field_started = false;
    if (record.size() == 1 && record[0].empty()) {  // blank line
    } else if (header.empty()) {
      header = record;
      for (std::string& h : header) h = std::string(absl::StripAsciiWhitespace(h));
    } else if (record_bytes > limits.max_line) {
      Reject(read, record_line, absl::StrCat("row longer than ", limits.max_line, " bytes"));
      ++read->rows;
    } else if (record.size() != header.size()) {
      Reject(read, record_line,
             absl::StrCat(record.size(), " fields, the header has ", header.size()));
      ++read->rows;
    } else {
      Row row{record_line, {}};
      for (size_t i = 0; i < header.size(); ++i) row.fields[header[i]] = std::move(record[i]);
      emit(std::move(row));
    }
    record.clear();
    record_bytes = 0;
    record_line = line;
  };
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    ++record_bytes;
    if (quoted) {
      if (c == '"') {
        if (i + 1 < text.size() && text[i + 1] == '"') {
          field.push_back('"');
          ++i;
        } else {
          quoted = false;
        }
      } else {
        if (c == '\n') ++line;
        if (field.size() < limits.max_line) field.push_back(c);
      }
      continue;
    }
    if (c == '"' && !field_started) {
      quoted = field_started = true;
    } else if (c == ',') {
      record.push_back(std::move(field));
      field.clear();
      field_started = false;
    } else if (c == '\n') {
      ++line;
      if (!field.empty() && field.back() == '\r') field.pop_back();
      end_record();
    } else {
      field_started = true;
      if (field.size() < limits.max_line) field.push_back(c);
    }
  }
  if (quoted)
    return absl::InvalidArgumentError(
        absl::StrCat("CSV: a quoted field opened on line ", record_line, " never closes"));
  if (!record.empty() || !field.empty()) end_record();
  if (header.empty()) return absl::InvalidArgumentError("CSV catalog has no header row");
  for (const char* required : {"item_id", "image_url", "listed_at"}) {
    if (std::find(header.begin(), header.end(), required) == header.end()) {
      return absl::InvalidArgumentError(absl::StrCat("CSV catalog header lacks '", required,
                                                     "' (it needs item_id, image_url, listed_at)"));
    }
  }
  return absl::OkStatus();
}

void ParseJsonl(std::string_view text, const CatalogLimits& limits,
                const std::function<void(Row)>& emit, CatalogRead* read) {
  int64_t line = 0;
  size_t at = 0;
  while (at < text.size()) {
    size_t end = text.find('\n', at);
    if (end == std::string_view::npos) end = text.size();
    std::string_view raw = text.substr(at, end - at);
    at = end + 1;
    ++line;
    if (raw.find_first_not_of(" \t\r") == std::string_view::npos) continue;
    if (raw.size() > limits.max_line) {
      ++read->rows;
      Reject(read, line, absl::StrCat("line longer than ", limits.max_line, " bytes"));
      continue;
    }
    absl::StatusOr<nlohmann::json> parsed = json_fields::Parse(raw);
    if (!parsed.ok() || !parsed->is_object()) {
      ++read->rows;
      Reject(read, line, "not a JSON object");
      continue;
    }
    nlohmann::json j = std::move(*parsed);
    Row row{line, {}};
    for (auto& [key, value] : j.items()) {
      row.fields[key] = value.is_string() ? value.get<std::string>() : DumpJson(value);
    }
    emit(std::move(row));  // counts the row
  }
}

}  // namespace

absl::StatusOr<CatalogRead> ParseCatalog(std::string_view text, const std::string& format,
                                         const TimeWindow& window, const Partition& partition,
                                         const CatalogLimits& limits) {
  CatalogRead read;
  auto emit = [&](Row row) {
    ++read.rows;
    const int64_t line = row.line;
    CatalogItem item;
    std::string why = ToItem(std::move(row), limits, &item);
    if (!why.empty()) {
      Reject(&read, line, why);
    } else if (item.listed_at < window.begin || item.listed_at >= window.end ||
               !InPartition(item.item_id, partition)) {
      ++read.outside;
    } else {
      read.items.push_back(std::move(item));
    }
  };
  if (format == "csv") {
    RETURN_IF_ERROR(ParseCsv(text, limits, emit, &read));
  } else if (format == "jsonl") {
    ParseJsonl(text, limits, emit, &read);
  } else {
    return absl::InvalidArgumentError(absl::StrCat("catalog format '", format, "': jsonl or csv"));
  }
  return read;
}

absl::StatusOr<CatalogRead> ReadCatalog(const std::string& url, const TimeWindow& window,
                                        const Partition& partition, const CatalogLimits& limits) {
  std::string lower = absl::AsciiStrToLower(url);
  std::string format;
  if (absl::EndsWith(lower, ".jsonl") || absl::EndsWith(lower, ".ndjson")) {
    format = "jsonl";
  } else if (absl::EndsWith(lower, ".csv")) {
    format = "csv";
  } else {
    return absl::InvalidArgumentError(absl::StrCat(
        "catalog '", url, "': name it .jsonl, .ndjson or .csv so its format is known"));
  }
  std::string text;
  if (absl::StartsWith(url, "s3://")) {
    std::string rest = url.substr(5);
    size_t slash = rest.find('/');
    if (slash == std::string::npos)
      return absl::InvalidArgumentError(absl::StrCat("catalog '", url, "': no object key"));
    ASSIGN_OR_RETURN(S3Options options, S3OptionsFromEnvironment());
    ASSIGN_OR_RETURN(std::unique_ptr<Store> store,
                     OpenS3Store("s3://" + rest.substr(0, slash), options));
    ASSIGN_OR_RETURN(text, store->Get(rest.substr(slash + 1), limits.max_bytes));
  } else if (url.find("://") != std::string::npos && !absl::StartsWith(url, "file://")) {
    return absl::InvalidArgumentError(
        absl::StrCat("catalog '", url, "': a path, file:// or s3://"));
  } else {
    ASSIGN_OR_RETURN(
        text, ReadFile(absl::StartsWith(url, "file://") ? url.substr(7) : url, limits.max_bytes));
  }
  auto read = ParseCatalog(text, format, window, partition, limits);
  if (!read.ok()) return Annotate(read.status(), absl::StrCat("catalog ", url));
  read->source_sha256 = Sha256Hex(text);
  return read;
}

}  // namespace photosearch
