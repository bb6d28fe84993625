// FAISS adapter. FAISS throws faiss::FaissException; every call is wrapped.
#include <faiss/IVFlib.h>
#include <faiss/Index.h>
#include <faiss/IndexFlat.h>
#include <faiss/IndexIVF.h>
#include <faiss/IndexPreTransform.h>
#include <faiss/IndexRefine.h>
#include <faiss/impl/FaissException.h>
#include <faiss/index_factory.h>
#include <faiss/index_io.h>
#include <omp.h>

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "index/flat_scan.h"
#include "index/vector_index.h"

namespace photosearch {
namespace {

// Vectors used to train IVF/PQ/PCA, at most: more costs time, adds little.
constexpr int64_t kMaxTrainingVectors = 200'000;
constexpr size_t kDefaultNprobe = 16;
// A re-ranking index (",RFlat", ",Refine(SQ8)") takes this many times k
// candidates from its compressed codes and re-ranks them with the finer ones.
constexpr float kRefineFactor = 8;
// Below this many queries at once an exact index is scanned by FlatTopK (this
// CPU's vector instructions); from it on FAISS multiplies matrices with BLAS.
constexpr int64_t kBlasQueries = 20;

// Sets this thread's OpenMP team size for its lifetime (0: leave it), then
// restores it, exceptions included.
class OmpThreadsOnThisThread {
 public:
  explicit OmpThreadsOnThisThread(int threads) : saved_(omp_get_max_threads()) {
    if (threads > 0) omp_set_num_threads(threads);
  }
  ~OmpThreadsOnThisThread() { omp_set_num_threads(saved_); }
  OmpThreadsOnThisThread(const OmpThreadsOnThisThread&) = delete;
  OmpThreadsOnThisThread& operator=(const OmpThreadsOnThisThread&) = delete;

 private:
  const int saved_;
};

class FaissIndex : public VectorIndex {
 public:
  FaissIndex(IndexSpec spec, std::unique_ptr<faiss::Index> index)
      : spec_(std::move(spec)),
        index_(std::move(index)),
        flat_(dynamic_cast<const faiss::IndexFlat*>(index_.get())) {}

  const IndexSpec& spec() const override { return spec_; }
  int dimension() const override { return static_cast<int>(index_->d); }
  int64_t size() const override { return index_->ntotal; }

  absl::Status Add(const float* vectors, int64_t n) override {
    if (n <= 0) return absl::OkStatus();
    try {
      if (!index_->is_trained) {
        int64_t train_n = std::min(n, kMaxTrainingVectors);
        index_->train(train_n, vectors);
      }
      index_->add(n, vectors);
    } catch (const std::exception& e) {
      return absl::InvalidArgumentError(
          absl::StrCat("FAISS ", spec_.factory, " add of ", n, " vectors: ", e.what()));
    }
    return absl::OkStatus();
  }

  absl::StatusOr<std::vector<std::vector<Neighbor>>> Search(
      const float* queries, int64_t nq, int k, const SearchParams& params) const override {
    if (k < 1) return absl::InvalidArgumentError("k must be >= 1");
    const LabelSet* exclude = params.exclude && !params.exclude->empty() ? params.exclude : nullptr;
    if (flat_ && nq < kBlasQueries) {
      std::vector<float> scores(k);
      std::vector<int64_t> labels(k);
      std::vector<std::vector<Neighbor>> out(nq);
      for (int64_t q = 0; q < nq; ++q) {
        FlatTopK(flat_->get_xb(), flat_->ntotal, dimension(), queries + q * dimension(), k,
                 scores.data(), labels.data(), exclude);
        for (int i = 0; i < k && labels[i] >= 0; ++i) out[q].push_back({labels[i], scores[i]});
      }
      return out;
    }
    if (!exclude) return SearchFaiss(queries, nq, k, params);
    // FAISS 1.7.3 cannot filter every index type inside its search (IndexRefine
    // takes no parameters): ask for more than k, drop the excluded, and ask
    // again with twice as many while a query has fewer than k left and the
    // index holds more.
    std::vector<std::vector<Neighbor>> out(nq);
    const int64_t n = size();
    int64_t fetch = std::min<int64_t>(n, k + std::min<int64_t>(exclude->count(), 4 * k));
    std::vector<int64_t> pending(nq);
    for (int64_t q = 0; q < nq; ++q) pending[q] = q;
    while (!pending.empty()) {
      std::vector<float> batch;
      batch.reserve(pending.size() * dimension());
      for (int64_t q : pending) {
        batch.insert(batch.end(), queries + q * dimension(), queries + (q + 1) * dimension());
      }
      ASSIGN_OR_RETURN(auto found,
                       SearchFaiss(batch.data(), static_cast<int64_t>(pending.size()),
                                   static_cast<int>(std::max<int64_t>(fetch, 1)), params));
      std::vector<int64_t> again;
      for (size_t i = 0; i < pending.size(); ++i) {
        std::vector<Neighbor>& kept = out[pending[i]];
        kept.clear();
        for (const Neighbor& nb : found[i]) {
          if (exclude->contains(nb.label)) continue;
          kept.push_back(nb);
          if (static_cast<int>(kept.size()) == k) break;
        }
        if (static_cast<int>(kept.size()) < k && static_cast<int64_t>(found[i].size()) == fetch &&
            fetch < n) {
          again.push_back(pending[i]);
        }
      }
      pending = std::move(again);
      fetch = std::min<int64_t>(n, fetch * 2);
    }
    return out;
  }

  absl::Status Save(const std::string& path) const override {
    try {
      faiss::write_index(index_.get(), path.c_str());
    } catch (const std::exception& e) {
      return absl::InternalError(absl::StrCat("writing FAISS index ", path, ": ", e.what()));
    }
    return absl::OkStatus();
  }

 private:
  // FAISS's own search of nq queries (BLAS for an exact index), no filter.
  absl::StatusOr<std::vector<std::vector<Neighbor>>> SearchFaiss(const float* queries, int64_t nq,
                                                                 int k,
                                                                 const SearchParams& params) const {
    std::vector<float> scores(static_cast<size_t>(nq) * k);
    std::vector<int64_t> labels(static_cast<size_t>(nq) * k);
    try {
      faiss::SearchParametersIVF ivf;
      faiss::SearchParametersPreTransform pre;  // PCA etc. in front of the IVF
      const faiss::SearchParameters* search_params = nullptr;
      // (FAISS 1.7.3's IndexRefine takes no search parameters: its nprobe
      // is the one saved with the index.)
      if (params.nprobe > 0 && !dynamic_cast<const faiss::IndexRefine*>(index_.get()) &&
          faiss::ivflib::try_extract_index_ivf(index_.get())) {
        ivf.nprobe = static_cast<size_t>(params.nprobe);
        search_params = &ivf;
        if (dynamic_cast<const faiss::IndexPreTransform*>(index_.get())) {
          pre.index_params = &ivf;
          search_params = &pre;
        }
      }
      // A few queries (a request's) run on the caller's thread alone: an
      // OpenMP team started here would outnumber the cores together with
      // the model's and make libgomp stop spinning (see PhotoEmbedder::Load).
      OmpThreadsOnThisThread one_thread(nq < kBlasQueries ? 1 : 0);
      index_->search(nq, queries, k, scores.data(), labels.data(), search_params);
    } catch (const std::exception& e) {
      return absl::InternalError(absl::StrCat("FAISS ", spec_.factory, " search: ", e.what()));
    }
    std::vector<std::vector<Neighbor>> out(nq);
    for (int64_t q = 0; q < nq; ++q) {
      for (int i = 0; i < k; ++i) {
        size_t at = static_cast<size_t>(q) * k + i;
        if (labels[at] < 0) break;  // fewer than k vectors
        out[q].push_back(Neighbor{labels[at], scores[at]});
      }
    }
    return out;
  }

  const IndexSpec spec_;
  std::unique_ptr<faiss::Index> index_;
  const faiss::IndexFlat* const flat_;  // index_ when it is exact, else null
};

}  // namespace

absl::StatusOr<std::unique_ptr<VectorIndex>> CreateFaissIndex(const IndexSpec& spec,
                                                              int dimension) {
  try {
    std::unique_ptr<faiss::Index> index(
        faiss::index_factory(dimension, spec.factory.c_str(), faiss::METRIC_INNER_PRODUCT));
    // FAISS probes one inverted list by default, which finds about half of the
    // true neighbours; probe more (saved with the index; SearchParams overrides).
    faiss::Index* base = index.get();
    if (auto* refine = dynamic_cast<faiss::IndexRefine*>(base)) {
      refine->k_factor = kRefineFactor;
      base = refine->base_index;
    }
    if (faiss::IndexIVF* ivf = faiss::ivflib::try_extract_index_ivf(base)) {
      ivf->nprobe = std::min<size_t>(ivf->nlist, kDefaultNprobe);
    }
    return std::unique_ptr<VectorIndex>(new FaissIndex(spec, std::move(index)));
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(
        absl::StrCat("FAISS cannot build '", spec.factory, "': ", e.what()));
  }
}

absl::StatusOr<std::unique_ptr<VectorIndex>> LoadFaissIndex(const IndexSpec& spec, int dimension,
                                                            const std::string& path) {
  try {
    std::unique_ptr<faiss::Index> index(faiss::read_index(path.c_str()));
    if (index->d != dimension) {
      return absl::DataLossError(absl::StrCat("FAISS index ", path, " has dimension ", index->d,
                                              ", its manifest says ", dimension));
    }
    if (index->metric_type != faiss::METRIC_INNER_PRODUCT) {
      return absl::DataLossError(absl::StrCat("FAISS index ", path, " is not inner-product"));
    }
    return std::unique_ptr<VectorIndex>(new FaissIndex(spec, std::move(index)));
  } catch (const std::exception& e) {
    return absl::DataLossError(absl::StrCat("reading FAISS index ", path, ": ", e.what()));
  }
}

}  // namespace photosearch
