#include <cstdio>
#include <cstdlib>

#include "base/files.h"
#include "base/status_macros.h"
#include "base/stopwatch.h"
#include "cli/common.h"
#include "image/decode.h"
#include "model/detector.h"
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
  decode.min_side = DetectorDecodeMinSide((*detector)->manifest());
  auto image = DecodeImage(*bytes, decode);
  if (!image.ok()) return Fail("detect", Annotate(image.status(), flags.image));
  const double decode_ms = watch.ElapsedMs();
  watch.Reset();
  auto boxes = (*detector)->Detect(*image);
  if (!boxes.ok()) return Fail("detect", Annotate(boxes.status(), flags.image));
  const double detect_ms = watch.ElapsedMs();

  // Boxes in the pixels of the photo as stored (the decoder may have scaled it down).
  const int width = image->source_width > 0 ? image->source_width : image->width;
  const int height = image->source_height > 0 ? image->source_height : image->height;
  ToStoredPixels(*image, &*boxes);

  const DetectorManifest& m = (*detector)->manifest();
  if (flags.json) {
    nlohmann::json out = {{"image", flags.image},
                          {"width", width},
                          {"height", height},
                          {"model", m.id},
                          {"runtime", (*detector)->runtime()},
                          {"detections", nlohmann::json::array()},
                          {"took_ms", {{"decode", decode_ms}, {"detect", detect_ms}}}};
    for (const Detection& d : *boxes) {
      out["detections"].push_back({{"class", d.class_name},
                                   {"class_id", d.class_id},
                                   {"score", d.score},
                                   {"box", {d.x0, d.y0, d.x1, d.y1}}});
    }
    std::printf("%s\n", out.dump(2).c_str());
    return 0;
  }
  if (!boxes->empty()) {
    std::printf("%-14s %-6s %7s %7s %7s %7s\n", "class", "score", "x0", "y0", "x1", "y1");
  }
  for (const Detection& d : *boxes) {
    std::printf("%-14s %-6.3f %7.1f %7.1f %7.1f %7.1f\n", d.class_name.c_str(), d.score, d.x0, d.y0,
                d.x1, d.y1);
  }
  std::fprintf(stderr,
               "%zu object(s) in %dx%d; model %s (%s), load %.0f ms, decode %.1f ms, "
               "detect %.1f ms\n",
               boxes->size(), width, height, m.id.c_str(), (*detector)->runtime().c_str(), load_ms,
               decode_ms, detect_ms);
  return 0;
}

}  // namespace photosearch
