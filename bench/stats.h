// Small statistics for the benchmarks.
#pragma once

#include <algorithm>
#include <vector>

namespace photosearch::bench {

// The p-quantile (0..1) of `v`, nearest rank. REQUIRES: !v.empty().
inline double Percentile(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p * v.size()))];
}

}  // namespace photosearch::bench
