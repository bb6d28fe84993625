// SHA-256 digests and HMAC-SHA256 (OpenSSL). Thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace photosearch {

std::string Sha256Hex(std::string_view data);

// Digest of a file's contents, read in chunks; `size_bytes` (optional) gets
// its size. Returns "" if the file cannot be read.
std::string Sha256FileHex(const std::string& path, uint64_t* size_bytes = nullptr);

// HMAC-SHA256 of `data` under `key`, as the 32 raw bytes (for chained keys,
// as in AWS Signature V4), and its lowercase hex form.
std::string HmacSha256(std::string_view key, std::string_view data);
std::string HexOf(std::string_view bytes);

}  // namespace photosearch
