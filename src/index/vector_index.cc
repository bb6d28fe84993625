#include "index/vector_index.h"

#include <charconv>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace photosearch {
namespace {

constexpr int64_t kExactSearchMaxVectors = 20'000;

absl::Status BadSpec(const std::string& text, const std::string& why) {
  return absl::InvalidArgumentError(absl::StrCat(
      "index spec '", text, "': ", why,
      " (examples: faiss:Flat, faiss:IVF1024,PQ32np, hnsw:M=16,ef_construction=200,ef_search=64)"));
}

}  // namespace

std::string IndexSpec::ToString() const {
  if (kind == Kind::kFaiss) return "faiss:" + factory;
  return absl::StrCat("hnsw:M=", hnsw_m, ",ef_construction=", hnsw_ef_construction,
                      ",ef_search=", hnsw_ef_search);
}

absl::StatusOr<IndexSpec> ParseIndexSpec(const std::string& text) {
  IndexSpec spec;
  std::string kind = text.substr(0, text.find(':'));
  std::string body = text.find(':') == std::string::npos ? "" : text.substr(text.find(':') + 1);
  if (kind == "faiss") {
    if (body.empty()) return BadSpec(text, "faiss needs a factory string");
    for (char c : body) {
      if (!(std::isalnum(static_cast<unsigned char>(c)) || c == ',' || c == '_' || c == '.' ||
            c == '-' || c == '+' || c == '(' || c == ')')) {
        return BadSpec(text, "unexpected character in the factory string");
      }
    }
    spec.kind = IndexSpec::Kind::kFaiss;
    spec.factory = body;
    return spec;
  }
  if (kind != "hnsw") return BadSpec(text, "kind must be faiss or hnsw");
  spec.kind = IndexSpec::Kind::kHnsw;
  if (body.empty()) return spec;
  for (absl::string_view option : absl::StrSplit(body, ',')) {
    std::vector<std::string> kv = absl::StrSplit(option, absl::MaxSplits('=', 1));
    int value = 0;
    if (kv.size() != 2) return BadSpec(text, "hnsw options are key=value");
    auto [end, ec] = std::from_chars(kv[1].data(), kv[1].data() + kv[1].size(), value);
    if (ec != std::errc() || end != kv[1].data() + kv[1].size()) {
      return BadSpec(text, absl::StrCat("'", kv[1], "' is not a number"));
    }
    if (kv[0] == "M" && value >= 2 && value <= 128) {
      spec.hnsw_m = value;
    } else if (kv[0] == "ef_construction" && value >= 1 && value <= 4096) {
      spec.hnsw_ef_construction = value;
    } else if (kv[0] == "ef_search" && value >= 1 && value <= 4096) {
      spec.hnsw_ef_search = value;
    } else {
      return BadSpec(text, absl::StrCat("unknown option or value out of range: ", option));
    }
  }
  return spec;
}

IndexSpec ChooseIndexSpec(int64_t num_vectors) {
  IndexSpec spec;
  if (num_vectors >= kExactSearchMaxVectors) spec.kind = IndexSpec::Kind::kHnsw;
  return spec;
}

absl::StatusOr<std::unique_ptr<VectorIndex>> CreateIndex(const IndexSpec& spec, int dimension,
                                                         int64_t expected_size) {
  if (dimension < 1 || dimension > 65536) {
    return absl::InvalidArgumentError(absl::StrCat("index dimension ", dimension, " out of range"));
  }
  if (spec.kind == IndexSpec::Kind::kHnsw) return CreateHnswIndex(spec, dimension, expected_size);
  return CreateFaissIndex(spec, dimension);
}

absl::StatusOr<std::unique_ptr<VectorIndex>> LoadIndex(const IndexSpec& spec, int dimension,
                                                       const std::string& path) {
  if (spec.kind == IndexSpec::Kind::kHnsw) return LoadHnswIndex(spec, dimension, path);
  return LoadFaissIndex(spec, dimension, path);
}

}  // namespace photosearch
