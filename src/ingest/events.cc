#include "ingest/events.h"

#include <charconv>
#include <map>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "artifact/window.h"
#include "base/json_fields.h"
#include "base/status_macros.h"
#include "base/utf8.h"

namespace photosearch {
namespace {

constexpr int64_t kYear10000 = int64_t{253402300800};

absl::Status Bad(const std::string& why) { return absl::InvalidArgumentError(why); }

// At most 40 bytes of a value, escaped, for reasons.
std::string Echo(const std::string& value) {
  const std::string cut = value.substr(0, 40);
  return absl::CHexEscape(absl::string_view(cut.data(), cut.size()));
}

absl::StatusOr<StreamEntry> ParseEntry(const RedisReply& entry) {
  if (!entry.is_array() || entry.elements.size() != 2 || !entry.elements[0].is_string()) {
    return absl::DataLossError("redis: a stream entry is not [id, fields]");
  }
  StreamEntry out;
  out.id = entry.elements[0].str;
  const RedisReply& body = entry.elements[1];
  if (body.is_nil()) {
    out.trimmed = true;
    return out;
  }
  if (!body.is_array() || body.elements.size() % 2 != 0) {
    return absl::DataLossError("redis: a stream entry's fields are not pairs");
  }
  for (size_t i = 0; i + 1 < body.elements.size(); i += 2) {
    if (!body.elements[i].is_string() || !body.elements[i + 1].is_string()) {
      return absl::DataLossError("redis: a stream entry's field is not a string");
    }
    out.fields.emplace_back(body.elements[i].str, body.elements[i + 1].str);
  }
  return out;
}

absl::StatusOr<std::vector<StreamEntry>> ParseEntries(const RedisReply& entries) {
  std::vector<StreamEntry> out;
  if (entries.is_nil()) return out;
  if (!entries.is_array()) return absl::DataLossError("redis: stream entries are not an array");
  for (const RedisReply& e : entries.elements) {
    ASSIGN_OR_RETURN(StreamEntry entry, ParseEntry(e));
    out.push_back(std::move(entry));
  }
  return out;
}

absl::StatusOr<int64_t> Time(const std::string& field, const std::string& value) {
  absl::StatusOr<int64_t> t = value.size() <= 40 ? ParseRfc3339(value) : absl::InvalidArgumentError("");
  if (!t.ok()) {
    return Bad(absl::StrCat(field, " '", Echo(value),
                            "' is not an RFC 3339 time (2026-11-22T05:30:00Z)"));
  }
  if (*t < 0 || *t >= kYear10000) {
    return Bad(absl::StrCat(field, " '", Echo(value), "' is outside the years 1970 to 9999"));
  }
  return *t;
}

}  // namespace

absl::StatusOr<std::vector<StreamEntry>> ParseReadReply(const RedisReply& reply) {
  if (reply.is_nil()) return std::vector<StreamEntry>();
  if (!reply.is_array()) return absl::DataLossError("redis: XREADGROUP reply is not an array");
  std::vector<StreamEntry> out;
  for (const RedisReply& stream : reply.elements) {
    if (!stream.is_array() || stream.elements.size() != 2) {
      return absl::DataLossError("redis: XREADGROUP stream is not [name, entries]");
    }
    ASSIGN_OR_RETURN(std::vector<StreamEntry> entries, ParseEntries(stream.elements[1]));
    for (StreamEntry& e : entries) out.push_back(std::move(e));
  }
  return out;
}

absl::StatusOr<std::vector<StreamEntry>> ParseAutoClaimReply(const RedisReply& reply,
                                                             std::string* cursor) {
  if (!reply.is_array() || reply.elements.size() < 2 || !reply.elements[0].is_string()) {
    return absl::DataLossError("redis: XAUTOCLAIM reply is not [cursor, entries, ...]");
  }
  *cursor = reply.elements[0].str;
  ASSIGN_OR_RETURN(std::vector<StreamEntry> out, ParseEntries(reply.elements[1]));
  if (reply.elements.size() >= 3 && reply.elements[2].is_array()) {
    for (const RedisReply& id : reply.elements[2].elements) {
      if (!id.is_string()) continue;
      StreamEntry gone;
      gone.id = id.str;
      gone.trimmed = true;
      out.push_back(std::move(gone));
    }
  }
  return out;
}

absl::StatusOr<int64_t> StreamIdMillis(const std::string& id) {
  const size_t dash = id.find('-');
  int64_t ms = 0, seq = 0;
  if (dash == std::string::npos || dash == 0 || id.size() > 41) return Bad("bad stream id");
  auto [end, ec] = std::from_chars(id.data(), id.data() + dash, ms);
  auto [end2, ec2] = std::from_chars(id.data() + dash + 1, id.data() + id.size(), seq);
  if (ec != std::errc() || end != id.data() + dash || ec2 != std::errc() ||
      end2 != id.data() + id.size() || ms < 0 || seq < 0) {
    return Bad(absl::StrCat("stream id '", Echo(id), "' is not <ms>-<seq>"));
  }
  return ms;
}

absl::StatusOr<ListingEvent> ParseListingEvent(const StreamEntry& entry) {
  if (entry.trimmed) {
    return Bad("the entry's body was trimmed from the stream before it was processed");
  }
  ListingEvent event;
  event.event_id = entry.id;
  ASSIGN_OR_RETURN(event.event_ms, StreamIdMillis(entry.id));
  if (entry.fields.size() > kMaxEventFields) {
    return Bad(absl::StrCat("an event has at most ", kMaxEventFields, " fields, this one ",
                            entry.fields.size()));
  }
  std::map<std::string, std::string> fields;
  for (const auto& [name, value] : entry.fields) {
    if (!fields.emplace(name, value).second) {
      return Bad(absl::StrCat("field '", Echo(name), "' is given twice"));
    }
  }
  auto get = [&](const char* name) -> const std::string* {
    auto it = fields.find(name);
    return it == fields.end() ? nullptr : &it->second;
  };
  const std::string* op = get("op");
  if (!op) return Bad("missing field 'op' (put or delete)");
  if (*op == "put") {
    event.op = ListingEvent::Op::kPut;
  } else if (*op == "delete") {
    event.op = ListingEvent::Op::kDelete;
  } else {
    return Bad(absl::StrCat("op '", Echo(*op), "' is neither put nor delete"));
  }
  const std::string* item = get("item_id");
  if (!item || item->empty()) return Bad("missing field 'item_id'");
  if (item->size() > kMaxItemIdBytes) {
    return Bad(absl::StrCat("item_id is ", item->size(), " bytes, at most ", kMaxItemIdBytes));
  }
  if (FindInvalidUtf8(*item) != std::string_view::npos) return Bad("item_id is not UTF-8");
  event.item_id = *item;
  if (event.op == ListingEvent::Op::kDelete) {
    if (const std::string* at = get("deleted_at")) {
      ASSIGN_OR_RETURN(event.deleted_at, Time("deleted_at", *at));
    } else {
      event.deleted_at = event.event_ms / 1000;
    }
    return event;
  }
  const std::string* url = get("image_url");
  if (!url || url->empty()) return Bad("missing field 'image_url'");
  if (url->size() > kMaxImageUrlBytes) {
    return Bad(absl::StrCat("image_url is ", url->size(), " bytes, at most ", kMaxImageUrlBytes));
  }
  if (FindInvalidUtf8(*url) != std::string_view::npos) return Bad("image_url is not UTF-8");
  const bool scheme = url->rfind("http://", 0) == 0 || url->rfind("https://", 0) == 0 ||
                      url->rfind("s3://", 0) == 0 || url->rfind("file://", 0) == 0;
  if (!scheme) {
    return Bad(absl::StrCat("image_url '", Echo(*url), "' is not http(s)://, s3:// or file://"));
  }
  event.image_url = *url;
  const std::string* listed = get("listed_at");
  if (!listed) return Bad("missing field 'listed_at'");
  ASSIGN_OR_RETURN(event.listed_at, Time("listed_at", *listed));
  if (const std::string* attrs = get("attrs")) {
    if (attrs->size() > kMaxAttrsBytes) {
      return Bad(absl::StrCat("attrs is ", attrs->size(), " bytes, at most ", kMaxAttrsBytes));
    }
    absl::StatusOr<nlohmann::json> parsed = json_fields::Parse(*attrs, 8);
    if (!parsed.ok() || !parsed->is_object()) {
      return Bad(absl::StrCat("attrs is not a JSON object",
                              parsed.ok() ? "" : absl::StrCat(": ", parsed.status().message())));
    }
    event.attrs = *attrs;
  }
  return event;
}

}  // namespace photosearch
