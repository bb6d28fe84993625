// hnswlib adapter: the immutable HNSW index and the live index's mutable
// graphs (hnswlib 0.6 defines globals in its headers: this is the only file
// that includes it). hnswlib throws std::runtime_error; every call is wrapped.
#include <hnswlib/hnswlib.h>

#include <algorithm>
#include <thread>

#include "absl/strings/str_cat.h"
#include "index/hnsw_graph.h"
#include "index/hnsw_walk.h"
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
      for (int64_t q = 0; q < nq; ++q) {
        out[q] = SearchOne(queries + q * dimension_, k, ef, params.exclude);
      }
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
  std::vector<Neighbor> SearchOne(const float* query, int k, size_t ef,
                                  const LabelSet* exclude) const {
    const auto& h = *hnsw_;
    auto skip = [&](hnswlib::tableint id) {
      return exclude != nullptr && exclude->contains(static_cast<int64_t>(h.getExternalLabel(id)));
    };
    std::vector<hnsw_walk::Found> found =
        hnsw_walk::Search</*kLocked=*/false>(h, h.cur_element_count, query, k, ef, skip);
    std::vector<Neighbor> result(found.size());
    for (size_t i = 0; i < found.size(); ++i) {
      // InnerProductSpace distance is 1 - <a,b>.
      result[i] = Neighbor{static_cast<int64_t>(h.getExternalLabel(found[i].id)),
                           1.f - found[i].distance};
    }
    return result;
  }

  // Constant after construction.
  const IndexSpec spec_;
  const int dimension_;
  hnswlib::InnerProductSpace space_;  // must outlive hnsw_
  std::unique_ptr<hnswlib::HierarchicalNSW<float>> hnsw_;
};

// A live index segment's graph (index/hnsw_graph.h): hnswlib's own addPoint,
// and the locked walk beside it.
class MutableGraph : public HnswGraph {
 public:
  MutableGraph(int dimension, size_t capacity, int m, int ef_construction)
      : space_(dimension),
        graph_(&space_, std::max<size_t>(capacity, 1), m, ef_construction),
        m_(m) {}

  absl::Status Add(const float* vector, size_t id) override {
    try {
      graph_.addPoint(vector, id);
    } catch (const std::exception& e) {
      return absl::InternalError(absl::StrCat("adding to the live index: ", e.what()));
    }
    return absl::OkStatus();
  }

  std::vector<std::pair<float, size_t>> Search(
      const float* query, size_t count, int k, size_t ef,
      const std::function<bool(size_t)>& skip) const override {
    // Node ids are labels: one writer adds them in order.
    std::vector<hnsw_walk::Found> found =
        hnsw_walk::Search</*kLocked=*/true>(graph_, count, query, k, ef, skip);
    std::vector<std::pair<float, size_t>> out;
    out.reserve(found.size());
    for (const hnsw_walk::Found& f : found) out.emplace_back(1.f - f.distance, f.id);
    return out;
  }

  const float* Vector(size_t id) const override {
    return reinterpret_cast<const float*>(
        graph_.getDataByInternalId(static_cast<hnswlib::tableint>(id)));
  }
  size_t BytesPerNode() const override {
    // Level 0 (data, links, label), and upper levels on ~1/M of the nodes.
    return graph_.size_data_per_element_ + graph_.size_links_per_element_ / m_;
  }
  size_t FixedBytes() const override {
    return graph_.max_elements_ * (sizeof(std::mutex) + sizeof(int) + sizeof(char*));
  }

 private:
  hnswlib::InnerProductSpace space_;  // must outlive graph_
  hnswlib::HierarchicalNSW<float> graph_;
  const int m_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<HnswGraph>> HnswGraph::Create(int dimension, size_t capacity, int m,
                                                             int ef_construction) {
  try {
    return std::unique_ptr<HnswGraph>(new MutableGraph(dimension, capacity, m, ef_construction));
  } catch (const std::exception& e) {
    return absl::ResourceExhaustedError(absl::StrCat("creating a live index segment: ", e.what()));
  }
}

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
