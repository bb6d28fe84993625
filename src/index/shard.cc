#include "index/shard.h"

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <unordered_set>

#include "absl/strings/str_cat.h"
#include "base/files.h"
#include "base/little_endian.h"
#include "base/status_macros.h"

namespace photosearch {
namespace {

namespace fs = std::filesystem;

constexpr std::string_view kIdsMagic = "PSIDS1\n";
constexpr std::string_view kTimesMagic = "PSTIME1\n";
constexpr uint32_t kMaxIdBytes = 4096;

}  // namespace

std::string EncodeIds(const std::vector<std::string>& ids) {
  std::string out(kIdsMagic);
  AppendLe<uint64_t>(&out, ids.size());
  for (const std::string& id : ids) {
    AppendLe<uint32_t>(&out, static_cast<uint32_t>(id.size()));
    out += id;
  }
  return out;
}

absl::StatusOr<std::vector<std::string>> DecodeIds(std::string_view data) {
  if (data.substr(0, kIdsMagic.size()) != kIdsMagic) {
    return absl::DataLossError("ids file: bad magic");
  }
  data.remove_prefix(kIdsMagic.size());
  uint64_t count = 0;
  if (!ReadLe(&data, &count) || count > data.size() / sizeof(uint32_t)) {
    return absl::DataLossError("ids file: bad count");
  }
  std::vector<std::string> ids;
  ids.reserve(count);
  for (uint64_t i = 0; i < count; ++i) {
    uint32_t length = 0;
    if (!ReadLe(&data, &length) || length > kMaxIdBytes || length > data.size()) {
      return absl::DataLossError(absl::StrCat("ids file: truncated at id ", i));
    }
    ids.emplace_back(data.substr(0, length));
    data.remove_prefix(length);
  }
  if (!data.empty()) return absl::DataLossError("ids file: trailing bytes");
  return ids;
}

std::string EncodeTimes(const std::vector<int64_t>& times) {
  std::string out(kTimesMagic);
  AppendLe<uint64_t>(&out, times.size());
  for (int64_t t : times) AppendLe<int64_t>(&out, t);
  return out;
}

absl::StatusOr<std::vector<int64_t>> DecodeTimes(std::string_view data) {
  if (data.substr(0, kTimesMagic.size()) != kTimesMagic) {
    return absl::DataLossError("times file: bad magic");
  }
  data.remove_prefix(kTimesMagic.size());
  uint64_t count = 0;
  if (!ReadLe(&data, &count) || count > data.size() / sizeof(int64_t) ||
      data.size() != count * sizeof(int64_t)) {
    return absl::DataLossError("times file: count and size disagree");
  }
  std::vector<int64_t> times(count);
  for (uint64_t i = 0; i < count; ++i) ReadLe(&data, &times[i]);
  return times;
}

std::string Shard::IndexFileName(const IndexSpec& spec) {
  return spec.kind == IndexSpec::Kind::kHnsw ? "index.hnsw" : "index.faiss";
}

absl::StatusOr<std::unique_ptr<Shard>> Shard::Create(const IndexSpec& spec, int dimension,
                                                     int64_t expected_size) {
  ASSIGN_OR_RETURN(std::unique_ptr<VectorIndex> index, CreateIndex(spec, dimension, expected_size));
  return std::unique_ptr<Shard>(new Shard(std::move(index), {}, {}));
}

absl::StatusOr<std::unique_ptr<Shard>> Shard::Open(const std::string& dir, const IndexSpec& spec,
                                                   int dimension) {
  std::string ids_path = (fs::path(dir) / kIdsFile).string();
  ASSIGN_OR_RETURN(std::string ids_bytes, ReadFile(ids_path));
  auto ids = DecodeIds(ids_bytes);
  if (!ids.ok()) return Annotate(ids.status(), ids_path);
  ASSIGN_OR_RETURN(std::unique_ptr<VectorIndex> index,
                   LoadIndex(spec, dimension, (fs::path(dir) / IndexFileName(spec)).string()));
  if (index->size() != static_cast<int64_t>(ids->size())) {
    return absl::DataLossError(absl::StrCat("shard in ", dir, ": index holds ", index->size(),
                                            " vectors but ids.bin names ", ids->size()));
  }
  std::vector<int64_t> listed_at;
  const std::string times_path = (fs::path(dir) / kListedAtFile).string();
  absl::StatusOr<std::string> times = ReadFile(times_path);
  if (times.ok()) {
    absl::StatusOr<std::vector<int64_t>> decoded = DecodeTimes(*times);
    if (!decoded.ok()) return Annotate(decoded.status(), times_path);
    if (decoded->size() != ids->size()) {
      return absl::DataLossError(absl::StrCat("shard in ", dir, ": ", decoded->size(),
                                              " listing times for ", ids->size(), " ids"));
    }
    listed_at = std::move(*decoded);
  } else if (!absl::IsNotFound(times.status())) {
    return times.status();
  }
  return std::unique_ptr<Shard>(new Shard(std::move(index), std::move(*ids), std::move(listed_at)));
}

Shard::Shard(std::unique_ptr<VectorIndex> index, std::vector<std::string> ids,
             std::vector<int64_t> listed_at)
    : index_(std::move(index)), ids_(std::move(ids)), listed_at_(std::move(listed_at)) {
  IndexItems();
}

void Shard::IndexItems() {
  by_id_.resize(ids_.size());
  for (size_t i = 0; i < ids_.size(); ++i) by_id_[i] = static_cast<uint32_t>(i);
  std::sort(by_id_.begin(), by_id_.end(), [this](uint32_t a, uint32_t b) {
    const int c = ids_[a].compare(ids_[b]);
    return c != 0 ? c < 0 : a < b;
  });
  // Several vectors of one item sit next to each other now.
  int most = ids_.empty() ? 1 : 0;
  for (size_t i = 0, run = 0; i < by_id_.size(); ++i) {
    run = i > 0 && ids_[by_id_[i]] == ids_[by_id_[i - 1]] ? run + 1 : 1;
    most = std::max<int>(most, static_cast<int>(run));
  }
  max_vectors_per_item_ = most;
}

void Shard::LabelsOf(std::string_view item_id, std::vector<int64_t>* out) const {
  auto it = std::lower_bound(by_id_.begin(), by_id_.end(), item_id,
                             [this](uint32_t label, std::string_view id) { return ids_[label] < id; });
  for (; it != by_id_.end() && ids_[*it] == item_id; ++it) out->push_back(*it);
}

absl::Status Shard::Add(const std::vector<std::string>& ids, const std::vector<float>& vectors,
                        const std::vector<int64_t>& listed_at) {
  if (vectors.size() != ids.size() * static_cast<size_t>(dimension())) {
    return absl::InvalidArgumentError(
        absl::StrCat("Shard::Add: ", ids.size(), " ids but ", vectors.size(), " floats"));
  }
  if (!listed_at.empty() ? listed_at.size() != ids.size() || listed_at_.size() != ids_.size()
                         : !listed_at_.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "Shard::Add: listing times for every id or for none (", listed_at.size(), " for ",
        ids.size(), " ids)"));
  }
  if (ids_.size() + ids.size() > UINT32_MAX) {
    return absl::ResourceExhaustedError("Shard::Add: more than 2^32 vectors in one shard");
  }
  for (const std::string& id : ids) {
    if (id.empty() || id.size() > kMaxIdBytes) {
      return absl::InvalidArgumentError(
          absl::StrCat("item id must be 1..", kMaxIdBytes, " bytes: '", id.substr(0, 64), "'"));
    }
  }
  RETURN_IF_ERROR(index_->Add(vectors.data(), static_cast<int64_t>(ids.size())));
  ids_.insert(ids_.end(), ids.begin(), ids.end());
  listed_at_.insert(listed_at_.end(), listed_at.begin(), listed_at.end());
  IndexItems();
  return absl::OkStatus();
}

absl::StatusOr<std::vector<std::string>> Shard::Save(const std::string& dir) const {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return absl::InternalError(absl::StrCat("creating ", dir, ": ", ec.message()));
  std::vector<std::string> files = {(fs::path(dir) / IndexFileName(index_->spec())).string(),
                                    (fs::path(dir) / kIdsFile).string()};
  RETURN_IF_ERROR(index_->Save(files[0]));
  RETURN_IF_ERROR(WriteFileAtomic(files[1], EncodeIds(ids_)));
  if (!listed_at_.empty()) {
    files.push_back((fs::path(dir) / kListedAtFile).string());
    RETURN_IF_ERROR(WriteFileAtomic(files.back(), EncodeTimes(listed_at_)));
  }
  return files;
}

absl::StatusOr<std::vector<std::vector<Hit>>> Shard::Search(const float* queries, int64_t nq, int k,
                                                            const SearchParams& params) const {
  // With several vectors per item, fetch enough neighbours for k items.
  const int64_t fetch = std::min<int64_t>(static_cast<int64_t>(k) * max_vectors_per_item_,
                                          std::max<int64_t>(k, size()));
  SearchParams wide = params;
  if (fetch > k && wide.ef_search > 0) wide.ef_search = std::max<int>(wide.ef_search, fetch);
  ASSIGN_OR_RETURN(auto neighbours, index_->Search(queries, nq, static_cast<int>(fetch), wide));
  std::vector<std::vector<Hit>> out(nq);
  for (int64_t q = 0; q < nq; ++q) {
    out[q].reserve(std::min<size_t>(k, neighbours[q].size()));
    std::unordered_set<std::string_view> seen;
    for (const Neighbor& n : neighbours[q]) {
      if (n.label < 0 || n.label >= size()) continue;
      if (max_vectors_per_item_ > 1 && !seen.insert(ids_[n.label]).second) continue;
      out[q].push_back(Hit{ids_[n.label], n.score});
      if (static_cast<int>(out[q].size()) == k) break;
    }
  }
  return out;
}

}  // namespace photosearch
