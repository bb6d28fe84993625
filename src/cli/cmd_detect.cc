#include <algorithm>
#include <cstdio>
#include <cstdlib>

#include "base/files.h"
#include "base/json_fields.h"
#include "base/status_macros.h"
#include "base/stopwatch.h"
#include "cli/common.h"
#include "image/decode.h"
#include "model/detect_policy.h"
#include "model/detector.h"
#include "model/region_embedder.h"
#include "nlohmann/json.hpp"

namespace photosearch {

std::string DefaultDetectorPath() {
  if (const char* env = std::getenv("PHOTOSEARCH_DETECTOR"); env && *env) return env;
  return PHOTOSEARCH_DEFAULT_DETECTOR;  // the source tree's models/, set by CMake
}

int RunDetect(const DetectFlags& flags) {
  DecodeLimits limits;
  auto bytes = ReadFile(flags.image, limits.max_bytes);
  if (!bytes.ok()) return Fail("detect", Annotate(bytes.status(), flags.image));
  // Refuse what is not a photo before loading the model.
  if (auto info = ProbeImage(*bytes); !info.ok()) {
    return Fail("detect", Annotate(info.status(), flags.image));
  }
  Stopwatch watch;
  auto detector = Detector::Load(flags.model, {flags.runtime, flags.threads});
  if (!detector.ok()) return Fail("detect", detector.status());
  const double load_ms = watch.ElapsedMs();

  watch.Reset();
  DecodeOptions decode;
  decode.limits = limits;
  decode.min_side = RegionDecodeMinSide((*detector)->manifest());  // as search and index do
  auto image = DecodeImage(*bytes, decode);
  if (!image.ok()) return Fail("detect", Annotate(image.status(), flags.image));
  const double decode_ms = watch.ElapsedMs();
  watch.Reset();
  auto found = (*detector)->Detect(*image);
  if (!found.ok()) return Fail("detect", Annotate(found.status(), flags.image));
  const double detect_ms = watch.ElapsedMs();
  // The object detect=primary would crop, among the boxes printed.
  const int proposal = CropRegions(DetectPolicy::kPrimary, *found, image->width, image->height,
                                   CropOptionsFor((*detector)->manifest()))[0]
                           .detection;
  const int primary = proposal >= 0 ? PrimaryAmongObjects(&*found, proposal) : -1;
  const std::vector<Detection>* boxes = &found->objects;

  // Boxes in the pixels of the photo as stored (the decoder may have scaled it down).
  const int width = image->source_width > 0 ? image->source_width : image->width;
  const int height = image->source_height > 0 ? image->source_height : image->height;
  ToStoredPixels(*image, &found->objects);

  const DetectorManifest& m = (*detector)->manifest();
  if (flags.json) {
    nlohmann::json out = {{"image", flags.image},
                          {"width", width},
                          {"height", height},
                          {"model", m.id},
                          {"runtime", (*detector)->runtime()},
                          {"detections", nlohmann::json::array()},
                          {"took_ms", {{"decode", decode_ms}, {"detect", detect_ms}}}};
    for (size_t i = 0; i < boxes->size(); ++i) {
      const Detection& d = (*boxes)[i];
      out["detections"].push_back({{"class", d.class_name},
                                   {"class_id", d.class_id},
                                   {"score", d.score},
                                   {"objectness", d.objectness},
                                   {"labelled", d.labelled},
                                   {"box", {d.x0, d.y0, d.x1, d.y1}},
                                   {"primary", static_cast<int>(i) == primary}});
    }
    std::printf("%s\n", DumpJson(out, 2).c_str());
    return 0;
  }
  if (!boxes->empty()) {
    std::printf("%-14s %-6s %7s %7s %7s %7s\n", "class", "score", "x0", "y0", "x1", "y1");
  }
  for (size_t i = 0; i < boxes->size(); ++i) {
    const Detection& d = (*boxes)[i];
    std::printf("%-14s %-6.3f %7.1f %7.1f %7.1f %7.1f%s\n", d.class_name.c_str(), d.score, d.x0,
                d.y0, d.x1, d.y1,
                static_cast<int>(i) != primary ? ""
                : d.labelled                   ? "  primary"
                                               : "  primary (an object of no sure class)");
  }
  std::fprintf(stderr,
               "%zu object(s) in %dx%d; model %s (%s), load %.0f ms, decode %.1f ms, "
               "detect %.1f ms\n",
               static_cast<size_t>(std::count_if(boxes->begin(), boxes->end(),
                                                 [](const Detection& d) { return d.labelled; })),
               width, height, m.id.c_str(), (*detector)->runtime().c_str(), load_ms, decode_ms,
               detect_ms);
  return 0;
}

}  // namespace photosearch
