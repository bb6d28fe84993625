// An artifact's manifest.json, as read from a repository (local or S3).
// Checks: what parses survives a round trip through ManifestToJson.
#include "artifact/manifest.h"
#include "fuzz_target.h"

using photosearch::fuzz::FuzzCheck;

PHOTOSEARCH_FUZZ_TARGET(artifact_manifest) {
  auto manifest = photosearch::ParseManifest(data);
  if (!manifest.ok()) {
    FuzzCheck(!manifest.status().message().empty(), "error without a message");
    return;
  }
  std::string json = photosearch::ManifestToJson(*manifest);
  auto again = photosearch::ParseManifest(json);
  FuzzCheck(again.ok(), "ManifestToJson wrote what ParseManifest refuses");
  FuzzCheck(photosearch::ManifestToJson(*again) == json, "round trip changed the manifest");
}
