// The tombstone files' encoding (tombstone_log.h), apart from the log so that
// the fuzz target links it alone.
#include <cstring>

#include "absl/strings/str_cat.h"
#include "artifact/tombstone_log.h"
#include "base/little_endian.h"
#include "base/sha256.h"

namespace photosearch {
namespace {

constexpr std::string_view kMagic = "PSTOMB1\n";
constexpr size_t kDigestHex = 64;
constexpr uint32_t kMaxIdBytes = 4096;

}  // namespace

std::string EncodeTombstones(const std::vector<Tombstone>& tombstones) {
  std::string out(kMagic);
  AppendLe<uint64_t>(&out, tombstones.size());
  for (const Tombstone& t : tombstones) {
    AppendLe<int64_t>(&out, t.deleted_at);
    AppendLe<uint32_t>(&out, static_cast<uint32_t>(t.item_id.size()));
    out += t.item_id;
  }
  out += Sha256Hex(out);
  return out;
}

absl::StatusOr<std::vector<Tombstone>> DecodeTombstones(std::string_view data) {
  if (data.size() < kMagic.size() + sizeof(uint64_t) + kDigestHex ||
      data.substr(0, kMagic.size()) != kMagic) {
    return absl::DataLossError("tombstones: not a tombstone file (bad magic or too short)");
  }
  std::string_view body = data.substr(0, data.size() - kDigestHex);
  if (Sha256Hex(body) != data.substr(body.size())) {
    return absl::DataLossError("tombstones: checksum mismatch");
  }
  body.remove_prefix(kMagic.size());
  uint64_t count = 0;
  ReadLe(&body, &count);
  // Every tombstone takes at least 13 bytes (time, length, one byte of id).
  if (count > body.size() / 13) return absl::DataLossError("tombstones: bad count");
  std::vector<Tombstone> out;
  out.reserve(count);
  for (uint64_t i = 0; i < count; ++i) {
    Tombstone t;
    uint32_t length = 0;
    if (!ReadLe(&body, &t.deleted_at) || !ReadLe(&body, &length) || length == 0 ||
        length > kMaxIdBytes || length > body.size()) {
      return absl::DataLossError(absl::StrCat("tombstones: truncated at entry ", i));
    }
    t.item_id.assign(body.substr(0, length));
    body.remove_prefix(length);
    out.push_back(std::move(t));
  }
  if (!body.empty()) return absl::DataLossError("tombstones: trailing bytes");
  return out;
}

}  // namespace photosearch
