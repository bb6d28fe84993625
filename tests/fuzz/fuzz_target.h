// One fuzz target = one parser of outside input, written once and built two
// ways:
//  - for libFuzzer (clang, -fsanitize=fuzzer,address,undefined; tests/fuzz/
//    CMakeLists.txt, run by scripts/fuzz): PHOTOSEARCH_FUZZ_TARGET becomes
//    LLVMFuzzerTestOneInput;
//  - for the corpus replay in the main build (GCC, CTest `fuzz_corpus_test`):
//    it registers the target by name, and fuzz_replay runs every file of
//    tests/fuzz/corpus/<name>/ through it, so each seed and each crash found
//    once stays a regression test.
//
// A target does more than not crash: it checks what the parser promises
// (bounds, round trips, no state kept between inputs) and calls FuzzCheck,
// which aborts with a message, so libFuzzer records the input.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

namespace photosearch::fuzz {

using TargetFn = void (*)(std::string_view data);

// Registers `fn` under `name` for fuzz_replay; returns true.
bool Register(const char* name, TargetFn fn);

// Aborts (a finding) with `what` when `ok` is false.
inline void FuzzCheck(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "fuzz check failed: %s\n", what);
    std::abort();
  }
}

}  // namespace photosearch::fuzz

#ifdef PHOTOSEARCH_LIBFUZZER
#define PHOTOSEARCH_FUZZ_TARGET(name)                                            \
  static void FuzzOne_##name(std::string_view data);                             \
  extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {      \
    FuzzOne_##name(std::string_view(reinterpret_cast<const char*>(data), size)); \
    return 0;                                                                    \
  }                                                                              \
  static void FuzzOne_##name(std::string_view data)
#else
#define PHOTOSEARCH_FUZZ_TARGET(name)                       \
  static void FuzzOne_##name(std::string_view data);        \
  [[maybe_unused]] static const bool kRegistered_##name =   \
      ::photosearch::fuzz::Register(#name, FuzzOne_##name); \
  static void FuzzOne_##name(std::string_view data)
#endif
