// UTF-8 validation, for text formats that must be UTF-8 (YAML configs) before
// their strings reach JSON, logs or hashes.
//
// Thread-safety: pure functions.
#pragma once

#include <cstddef>
#include <string_view>

namespace photosearch {

// The offset of the first byte that does not start or continue a well-formed
// UTF-8 sequence (no overlongs, no surrogates, nothing above U+10FFFF), or
// std::string_view::npos when `text` is valid.
size_t FindInvalidUtf8(std::string_view text);

}  // namespace photosearch
