// The embedding model's manifest (model.json), as `--model` or a model
// artifact supplies it. Checks: what parses has sane bounds.
#include "fuzz_target.h"
#include "model/manifest.h"

using photosearch::fuzz::FuzzCheck;

PHOTOSEARCH_FUZZ_TARGET(model_manifest) {
  auto m = photosearch::ParseModelManifest(std::string(data), "/nonexistent");
  if (!m.ok()) {
    FuzzCheck(!m.status().message().empty(), "error without a message");
    return;
  }
  FuzzCheck(m->input_width >= 8 && m->input_width <= 4096, "input width");
  FuzzCheck(m->input_height >= 8 && m->input_height <= 4096, "input height");
  FuzzCheck(m->dimension > 0, "dimension");
  FuzzCheck(!m->id.empty(), "id");
}
