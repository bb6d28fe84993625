// SHA-256 digests as lowercase hex (OpenSSL EVP). Thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace photosearch {

std::string Sha256Hex(std::string_view data);

// Digest of a file's contents, read in chunks; `size_bytes` (optional) gets
// its size. Returns "" if the file cannot be read.
std::string Sha256FileHex(const std::string& path, uint64_t* size_bytes = nullptr);

}  // namespace photosearch
