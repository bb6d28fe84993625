#include "index/shard.h"

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <unordered_map>
#include <unordered_set>

#include "absl/strings/str_cat.h"
#include "base/files.h"
#include "base/status_macros.h"

namespace photosearch {
namespace {

constexpr std::string_view kIdsMagic = "PSIDS1\n";
constexpr std::string_view kTimesMagic = "PSTIME1\n";
constexpr uint32_t kMaxIdBytes = 4096;

template <typename T>
void AppendLe(std::string* out, T value) {
  char bytes[sizeof(T)];
  std::memcpy(bytes, &value, sizeof(T));  // x86-64 and arm64 are little-endian
  out->append(bytes, sizeof(T));
}

template <typename T>
bool ReadLe(std::string_view* in, T* value) {
  if (in->size() < sizeof(T)) return false;
  std::memcpy(value, in->data(), sizeof(T));
  in->remove_prefix(sizeof(T));
  return true;
}

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
  return std::unique_ptr<Shard>(new Shard(std::move(index), {}));
}

absl::StatusOr<std::unique_ptr<Shard>> Shard::Open(const std::string& dir, const IndexSpec& spec,
                                                   int dimension) {
  namespace fs = std::filesystem;
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
  return std::unique_ptr<Shard>(new Shard(std::move(index), std::move(*ids)));
}

Shard::Shard(std::unique_ptr<VectorIndex> index, std::vector<std::string> ids)
    : index_(std::move(index)), ids_(std::move(ids)) {
  CountVectorsPerItem();
}

void Shard::CountVectorsPerItem() {
  std::unordered_map<std::string_view, int> count;
  int most = ids_.empty() ? 1 : 0;
  for (const std::string& id : ids_) most = std::max(most, ++count[id]);
  max_vectors_per_item_ = most;
}

absl::Status Shard::Add(const std::vector<std::string>& ids, const std::vector<float>& vectors) {
  if (vectors.size() != ids.size() * static_cast<size_t>(dimension())) {
    return absl::InvalidArgumentError(
        absl::StrCat("Shard::Add: ", ids.size(), " ids but ", vectors.size(), " floats"));
  }
  for (const std::string& id : ids) {
    if (id.empty() || id.size() > kMaxIdBytes) {
      return absl::InvalidArgumentError(
          absl::StrCat("item id must be 1..", kMaxIdBytes, " bytes: '", id.substr(0, 64), "'"));
    }
  }
  RETURN_IF_ERROR(index_->Add(vectors.data(), static_cast<int64_t>(ids.size())));
  ids_.insert(ids_.end(), ids.begin(), ids.end());
  CountVectorsPerItem();
  return absl::OkStatus();
}

absl::Status Shard::Save(const std::string& dir) const {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return absl::InternalError(absl::StrCat("creating ", dir, ": ", ec.message()));
  RETURN_IF_ERROR(index_->Save((fs::path(dir) / IndexFileName(index_->spec())).string()));
  return WriteFileAtomic((fs::path(dir) / kIdsFile).string(), EncodeIds(ids_));
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
