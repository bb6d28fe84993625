// Synthetic embeddings for the benchmarks: L2-normalised vectors with the
// structure of real ones: clusters (a random centre each) spread along a
// shared low-dimensional subspace, plus a little isotropic noise.
#pragma once

#include <cmath>
#include <cstdint>
#include <random>
#include <thread>
#include <vector>

namespace photosearch::bench {

// n normalised vectors: centre[c] + basis^T z + noise, c uniform over clusters.
inline std::vector<float> Generate(int64_t n, int dim, const std::vector<float>& centres,
                                   const std::vector<float>& basis, int rank, uint32_t seed) {
  const int clusters = static_cast<int>(centres.size() / dim);
  std::vector<float> out(n * dim);
  std::vector<std::thread> workers;
  const int threads = 2;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      std::mt19937 rng(seed + t);
      std::normal_distribution<float> normal(0.f, 1.f);
      std::uniform_int_distribution<int> pick(0, clusters - 1);
      std::vector<float> z(rank);
      for (int64_t i = t; i < n; i += threads) {
        float* v = &out[i * dim];
        const float* c = &centres[static_cast<size_t>(pick(rng)) * dim];
        for (float& x : z) x = normal(rng) * 0.35f;
        for (int d = 0; d < dim; ++d) v[d] = c[d] + normal(rng) * (0.15f / std::sqrt(float(dim)));
        for (int r = 0; r < rank; ++r) {
          const float* b = &basis[static_cast<size_t>(r) * dim];
          for (int d = 0; d < dim; ++d) v[d] += z[r] * b[d];
        }
        double norm = 0;
        for (int d = 0; d < dim; ++d) norm += double(v[d]) * v[d];
        float inv = static_cast<float>(1.0 / std::sqrt(norm));
        for (int d = 0; d < dim; ++d) v[d] *= inv;
      }
    });
  }
  for (auto& w : workers) w.join();
  return out;
}

inline std::vector<float> RandomUnitRows(int rows, int dim, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.f, 1.f);
  std::vector<float> out(static_cast<size_t>(rows) * dim);
  for (int r = 0; r < rows; ++r) {
    double norm = 0;
    for (int d = 0; d < dim; ++d) norm += std::pow(out[r * dim + d] = normal(rng), 2);
    for (int d = 0; d < dim; ++d) out[r * dim + d] /= std::sqrt(norm);
  }
  return out;
}

}  // namespace photosearch::bench
