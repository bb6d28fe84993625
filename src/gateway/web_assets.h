// The web page's files (web/), compiled into the binary so that `photosearch
// serve` needs nothing beside it. Generated from web/ by CMake.
#pragma once

#include <string_view>
#include <vector>

namespace photosearch {

struct WebAsset {
  const char* path;  // URL path, e.g. "/" or "/app.js"
  const char* content_type;
  std::string_view body;
};

const std::vector<WebAsset>& WebAssets();

}  // namespace photosearch
