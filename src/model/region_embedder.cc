#include "model/region_embedder.h"

#include <algorithm>
#include <future>

#include "base/status_macros.h"
#include "base/stopwatch.h"
#include "image/decode.h"
#include "model/preprocess.h"

namespace photosearch {
namespace {

// Scales a rectangle of a w x h decode to the photo's stored size.
CropRect ToStored(const CropRect& r, double sx, double sy) {
  CropRect out = r;
  out.x = static_cast<int>(r.x * sx);
  out.y = static_cast<int>(r.y * sy);
  out.width = std::max(1, static_cast<int>(r.width * sx));
  out.height = std::max(1, static_cast<int>(r.height * sy));
  return out;
}

}  // namespace

int RegionDecodeMinSide(const DetectorManifest& m) {
  // Crops are cut from a decode at least this large on its shorter side (or
  // the full photo if smaller), so that an object filling a fifth of the frame
  // still reaches the embedder at about its input size.
  constexpr int kCropDecodeMinSide = 1024;
  return std::max(kCropDecodeMinSide, DetectorDecodeMinSide(m));
}

absl::StatusOr<RegionEmbedding> EmbedRegions(PhotoEmbedder& embedder, Detector* detector,
                                             std::string_view bytes, DetectPolicy policy) {
  RegionEmbedding out;
  if (policy == DetectPolicy::kWhole || detector == nullptr) {
    if (policy != DetectPolicy::kWhole) {
      return absl::FailedPreconditionError("detection is not enabled here (no detector loaded)");
    }
    PhotoTimings timings;
    ASSIGN_OR_RETURN(std::vector<float> vector, embedder.EmbedPhoto(bytes, &timings));
    out.decode_ms = timings.decode_ms;
    out.embed_ms = timings.embed_ms;
    Region whole;
    whole.vector = std::move(vector);
    out.regions.push_back(std::move(whole));
    return out;
  }

  Stopwatch watch;
  DecodeOptions decode;
  decode.limits = embedder.limits();
  decode.min_side = RegionDecodeMinSide(detector->manifest());
  ASSIGN_OR_RETURN(Image image, DecodeImage(bytes, decode));
  out.width = image.source_width > 0 ? image.source_width : image.width;
  out.height = image.source_height > 0 ? image.source_height : image.height;
  const double sx = static_cast<double>(out.width) / image.width;
  const double sy = static_cast<double>(out.height) / image.height;
  out.decode_ms = watch.ElapsedMs();

  watch.Reset();
  ASSIGN_OR_RETURN(Detections found, detector->Detect(image));
  out.detect_ms = watch.ElapsedMs();

  watch.Reset();
  std::vector<CropRect> rects =
      CropRegions(policy, found, image.width, image.height, CropOptionsFor(detector->manifest()));
  const ModelManifest& m = embedder.manifest();
  std::vector<std::future<BatchingEmbedder::Result>> pending;
  for (const CropRect& rect : rects) {
    if (rect.detection < 0) {
      // The whole photo exactly as EmbedPhoto (and indexing with kWhole)
      // decodes it, so that it gets the very same vector.
      ASSIGN_OR_RETURN(std::vector<float> input, embedder.Prepare(bytes));
      pending.push_back(embedder.Submit(std::move(input)));
      continue;
    }
    Image crop = CropImage(image, rect);
    std::vector<float> input(InputTensorSize(m));
    RETURN_IF_ERROR(Preprocess(crop, m, input.data()));
    pending.push_back(embedder.Submit(std::move(input)));  // batched together
  }
  for (size_t i = 0; i < rects.size(); ++i) {
    BatchingEmbedder::Result vector = pending[i].get();
    if (!vector.ok()) return vector.status();
    Region region;
    region.rect = ToStored(rects[i], sx, sy);
    region.detection = rects[i].detection;
    if (policy == DetectPolicy::kPrimary && region.detection >= 0) {
      region.detection = PrimaryAmongObjects(&found, region.detection);
    }
    region.vector = std::move(*vector);
    out.regions.push_back(std::move(region));
  }
  ToStoredPixels(image, &found.objects);
  out.detections = std::move(found.objects);
  out.embed_ms = watch.ElapsedMs();
  return out;
}

}  // namespace photosearch
