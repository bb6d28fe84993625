// Test vectors for the index tests (not part of any library).
#pragma once

#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

namespace photosearch {

// n unit vectors around `clusters` random centres (real embeddings cluster;
// uniform random vectors in high dimension have no structure to find).
inline std::vector<float> Clustered(int n, int dim, int clusters, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal;
  std::vector<float> centres(static_cast<size_t>(clusters) * dim);
  for (float& c : centres) c = normal(rng);
  std::vector<float> out(static_cast<size_t>(n) * dim);
  std::uniform_int_distribution<int> pick(0, clusters - 1);
  for (int i = 0; i < n; ++i) {
    const float* centre = &centres[static_cast<size_t>(pick(rng)) * dim];
    double norm = 0;
    for (int d = 0; d < dim; ++d) {
      float v = centre[d] + 0.6f * normal(rng);
      out[static_cast<size_t>(i) * dim + d] = v;
      norm += double{v} * v;
    }
    for (int d = 0; d < dim; ++d)
      out[static_cast<size_t>(i) * dim + d] /= static_cast<float>(std::sqrt(norm));
  }
  return out;
}

}  // namespace photosearch
