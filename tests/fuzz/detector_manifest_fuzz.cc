// The object detector's manifest (model.json with "kind": "detector"). Class
// names files resolve in the bundled detector's folder. Checks: what parses
// has sane bounds.
#include "fuzz_target.h"
#include "model/detector_manifest.h"

using photosearch::fuzz::FuzzCheck;

#ifndef PHOTOSEARCH_SOURCE_DIR
#error "PHOTOSEARCH_SOURCE_DIR must name the source tree"
#endif

PHOTOSEARCH_FUZZ_TARGET(detector_manifest) {
  auto m = photosearch::ParseDetectorManifest(std::string(data),
                                              PHOTOSEARCH_SOURCE_DIR "/models/yolox_nano");
  if (!m.ok()) {
    FuzzCheck(!m.status().message().empty(), "error without a message");
    return;
  }
  FuzzCheck(m->input_width >= 8 && m->input_width <= 4096, "input width");
  FuzzCheck(!m->class_names.empty(), "no classes");
  FuzzCheck(m->ExpectedRows() > 0, "expected rows");
}
