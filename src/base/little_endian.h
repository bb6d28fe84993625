// Little-endian fixed-width values in byte strings, for the binary file
// formats (ids, listing times, tombstones, the ingest log). x86-64 and arm64
// are little-endian, so these are plain copies. Thread-safe (pure).
#pragma once

#include <cstring>
#include <string>
#include <string_view>

namespace photosearch {

template <typename T>
void AppendLe(std::string* out, T value) {
  char bytes[sizeof(T)];
  std::memcpy(bytes, &value, sizeof(T));
  out->append(bytes, sizeof(T));
}

// Reads a T from the front of *in and drops it; false if *in is too short.
template <typename T>
bool ReadLe(std::string_view* in, T* value) {
  if (in->size() < sizeof(T)) return false;
  std::memcpy(value, in->data(), sizeof(T));
  in->remove_prefix(sizeof(T));
  return true;
}

}  // namespace photosearch
