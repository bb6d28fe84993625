// Photo bytes -> one vector per region chosen by a DetectPolicy: the
// decode -> detect -> crop -> embed path that indexing and queries share, so
// that a listing photo and the same photo as a query are cut and embedded the
// same way. With kWhole it is exactly PhotoEmbedder::EmbedPhoto, and the whole
// photo's region under kAll (or kPrimary's fallback) gets that same vector.
//
// Thread-safety: thread-safe (PhotoEmbedder and Detector are).
#pragma once

#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "model/detect_policy.h"
#include "model/detector.h"
#include "model/photo_embedder.h"

namespace photosearch {

struct Region {
  CropRect rect;       // in the photo's stored pixels (width x height below)
  int detection = -1;  // index into RegionEmbedding::detections, -1 = whole image
  std::vector<float> vector;
};

struct RegionEmbedding {
  int width = 0, height = 0;  // the photo as stored, upright
  // Detections::objects in those pixels, best first; with kPrimary, the
  // primary proposal appended when no object covers its place
  // (PrimaryAmongObjects).
  std::vector<Detection> detections;
  std::vector<Region> regions;  // never empty; kAll: the whole image first
  double decode_ms = 0, detect_ms = 0, embed_ms = 0;
};

// The smallest side EmbedRegions decodes a photo to when it detects
// (DecodeOptions::min_side); boxes found on other decodes may differ a little.
int RegionDecodeMinSide(const DetectorManifest& m);

// REQUIRES: detector is non-null unless policy is kWhole.
absl::StatusOr<RegionEmbedding> EmbedRegions(PhotoEmbedder& embedder, Detector* detector,
                                             std::string_view bytes, DetectPolicy policy);

}  // namespace photosearch
