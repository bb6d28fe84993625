// Decoded image -> the model's input tensor, as the manifest describes:
// resize (shorter side), centre crop, colour order, scale, mean/std, CHW layout.
// Thread-safe (pure functions).
#pragma once

#include <vector>

#include "absl/status/status.h"
#include "image/image.h"
#include "model/manifest.h"

namespace photosearch {

// Number of floats in one preprocessed input: 3 * input_height * input_width.
inline size_t InputTensorSize(const ModelManifest& m) {
  return size_t{3} * m.input_height * m.input_width;
}

// The smallest side the decoder may downscale an image to without losing
// detail the model would see (DecodeOptions::min_side).
int DecodeMinSide(const ModelManifest& m);

// With a centre crop, only the central part of the long side, this many times
// the short side, is resized (the crop never reaches beyond it).
inline constexpr int kMaxPreprocessAspect = 8;

// Writes InputTensorSize(m) floats, channel-major (CHW), to `out`.
// REQUIRES: `out` holds InputTensorSize(m) floats.
absl::Status Preprocess(const Image& image, const ModelManifest& m, float* out);

}  // namespace photosearch
