// Exact top-k by inner product over a contiguous block of rows, for one query:
// the search behind exact ("faiss:Flat") shards when few queries come at once.
// Debian's FAISS is built for SSE2 only; this loop is compiled for this CPU's
// vector instructions (see docs/PERFORMANCE.md for the measured difference).
#pragma once

#include <cstdint>

#include "index/label_set.h"

namespace photosearch {

// Writes the min(k, n) best rows not in `exclude` (may be null), best first,
// to scores/labels[0..k) and -1 labels after them. REQUIRES: k >= 1, rows
// holds n * dim floats.
void FlatTopK(const float* rows, int64_t n, int dim, const float* query, int k, float* scores,
              int64_t* labels, const LabelSet* exclude = nullptr);

}  // namespace photosearch
