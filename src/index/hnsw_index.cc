// hnswlib adapter. hnswlib throws std::runtime_error; every call is wrapped.
#include <hnswlib/hnswlib.h>

#include <algorithm>
#include <thread>

#include "absl/strings/str_cat.h"
#include "index/vector_index.h"

namespace photosearch {
namespace {

class HnswIndex : public VectorIndex {
 public:
  HnswIndex(IndexSpec spec, int dimension)
      : spec_(std::move(spec)), dimension_(dimension), space_(dimension) {}

  absl::Status Init(int64_t capacity) {
    try {
      hnsw_ = std::make_unique<hnswlib::HierarchicalNSW<float>>(
          &space_, std::max<int64_t>(capacity, 1), spec_.hnsw_m, spec_.hnsw_ef_construction);
      hnsw_->setEf(spec_.hnsw_ef_search);
    } catch (const std::exception& e) {
      return absl::ResourceExhaustedError(absl::StrCat("creating HNSW index: ", e.what()));
    }
    return absl::OkStatus();
  }

  absl::Status Open(const std::string& path) {
    try {
      hnsw_ = std::make_unique<hnswlib::HierarchicalNSW<float>>(&space_, path);
      hnsw_->setEf(spec_.hnsw_ef_search);
    } catch (const std::exception& e) {
      return absl::DataLossError(absl::StrCat("reading HNSW index ", path, ": ", e.what()));
    }
    return absl::OkStatus();
  }

  const IndexSpec& spec() const override { return spec_; }
  int dimension() const override { return dimension_; }
  int64_t size() const override { return static_cast<int64_t>(hnsw_->cur_element_count); }

  absl::Status Add(const float* vectors, int64_t n) override {
    if (n <= 0) return absl::OkStatus();
    const int64_t first = size();
    try {
      if (first + n > static_cast<int64_t>(hnsw_->max_elements_)) {
        hnsw_->resizeIndex(std::max<size_t>(first + n, hnsw_->max_elements_ * 2));
      }
      // addPoint is thread-safe for distinct labels; build on every core.
      const int threads =
          static_cast<int>(std::min<int64_t>(n, std::max(1u, std::thread::hardware_concurrency())));
      std::atomic<int64_t> next{0};
      std::exception_ptr error;
      std::mutex error_mu;
      auto work = [&] {
        try {
          for (int64_t i = next.fetch_add(1); i < n; i = next.fetch_add(1)) {
            hnsw_->addPoint(vectors + i * dimension_, static_cast<size_t>(first + i));
          }
        } catch (...) {
          std::lock_guard<std::mutex> lock(error_mu);
          error = std::current_exception();
        }
      };
      // The first point sets the entry point; add it alone.
      hnsw_->addPoint(vectors, static_cast<size_t>(first));
      next = 1;
      std::vector<std::thread> pool;
      for (int t = 1; t < threads; ++t) pool.emplace_back(work);
      work();
      for (auto& t : pool) t.join();
      if (error) std::rethrow_exception(error);
    } catch (const std::exception& e) {
      return absl::InternalError(absl::StrCat("adding to HNSW index: ", e.what()));
    }
    return absl::OkStatus();
  }

  absl::StatusOr<std::vector<std::vector<Neighbor>>> Search(
      const float* queries, int64_t nq, int k, const SearchParams& params) const override {
    if (k < 1) return absl::InvalidArgumentError("k must be >= 1");
    const size_t ef =
        std::max<size_t>(params.ef_search > 0 ? params.ef_search : spec_.hnsw_ef_search, k);
    std::vector<std::vector<Neighbor>> out(nq);
    try {
      for (int64_t q = 0; q < nq; ++q) out[q] = SearchOne(queries + q * dimension_, k, ef);
    } catch (const std::exception& e) {
      return absl::InternalError(absl::StrCat("HNSW search: ", e.what()));
    }
    return out;
  }

  absl::Status Save(const std::string& path) const override {
    try {
      hnsw_->saveIndex(path);
    } catch (const std::exception& e) {
      return absl::InternalError(absl::StrCat("writing HNSW index ", path, ": ", e.what()));
    }
    return absl::OkStatus();
  }

 private:
  // hnswlib's searchKnn reads one index-wide ef and bumps shared atomic
  // counters on every hop; this is the same walk with a per-query ef and no
  // shared writes, so concurrent searches do not contend.
  std::vector<Neighbor> SearchOne(const float* query, int k, size_t ef) const {
    std::vector<Neighbor> result;
    const auto& h = *hnsw_;
    if (h.cur_element_count == 0) return result;
    hnswlib::tableint current = h.enterpoint_node_;
    float current_dist = h.fstdistfunc_(query, h.getDataByInternalId(current), h.dist_func_param_);
    for (int level = h.maxlevel_; level > 0; --level) {
      bool changed = true;
      while (changed) {
        changed = false;
        auto* links = reinterpret_cast<unsigned int*>(h.get_linklist(current, level));
        int count = h.getListCount(links);
        auto* neighbours = reinterpret_cast<hnswlib::tableint*>(links + 1);
        for (int i = 0; i < count; ++i) {
          float d = h.fstdistfunc_(query, h.getDataByInternalId(neighbours[i]), h.dist_func_param_);
          if (d < current_dist) {
            current_dist = d;
            current = neighbours[i];
            changed = true;
          }
        }
      }
    }
    auto top = h.searchBaseLayerST<false, false>(current, query, ef);
    while (top.size() > static_cast<size_t>(k)) top.pop();
    result.resize(top.size());
    for (size_t i = top.size(); i-- > 0;) {
      // InnerProductSpace distance is 1 - <a,b>.
      result[i] = Neighbor{static_cast<int64_t>(h.getExternalLabel(top.top().second)),
                           1.f - top.top().first};
      top.pop();
    }
    return result;
  }

  // Constant after construction.
  const IndexSpec spec_;
  const int dimension_;
  hnswlib::InnerProductSpace space_;  // must outlive hnsw_
  std::unique_ptr<hnswlib::HierarchicalNSW<float>> hnsw_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<VectorIndex>> CreateHnswIndex(const IndexSpec& spec, int dimension,
                                                             int64_t expected_size) {
  auto index = std::make_unique<HnswIndex>(spec, dimension);
  if (absl::Status s = index->Init(expected_size); !s.ok()) return s;
  return std::unique_ptr<VectorIndex>(std::move(index));
}

absl::StatusOr<std::unique_ptr<VectorIndex>> LoadHnswIndex(const IndexSpec& spec, int dimension,
                                                           const std::string& path) {
  auto index = std::make_unique<HnswIndex>(spec, dimension);
  if (absl::Status s = index->Open(path); !s.ok()) return s;
  return std::unique_ptr<VectorIndex>(std::move(index));
}

}  // namespace photosearch
